using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;
using Orchestrator.Grains;
using Xunit.Abstractions;
using static Orchestrator.Tests.Cluster.ClusterTestSupport;

namespace Orchestrator.Tests.Cluster;

/// <summary>
/// The cluster-wide allocators stay single while services are created through every silo's API
/// and nodes register, and across kill -9 of the silos that host them: no ClusterIP and no pod
/// CIDR is ever handed out twice. (The scheduler's side, no pod bound twice, is in
/// <see cref="FailoverTests"/>.)
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SingletonTests(ClusterStoresFixture stores, ITestOutputHelper output)
{
    [Fact]
    public async Task AllocatorsNeverHandOutAnAddressOrRangeTwiceAcrossSiloCrashes()
    {
        var phases = new Phases(output);
        await using var cluster = await stores.StartClusterAsync(3, output);
        phases.Log("3 silos ready");
        await RunAsync(cluster, output, async () =>
        {
            var client = await cluster.ClientAsync();
            var ipAllocator = client.GetGrain<IServiceIpAllocatorGrain>(SchedulerGrainKeys.Default);
            var cidrAllocator = client.GetGrain<IPodCidrAllocatorGrain>(SchedulerGrainKeys.Default);
            await CreateEventuallyAsync(Api(cluster.Silos[0]), "/api/v1/namespaces/default/services", ClusterIpService("first"));
            var groups = new List<NodeAgentGroup> { await StartFakeNodesAsync(cluster, ["first-node"]) };

            using var stop = new CancellationTokenSource();
            var load = new AllocationLoad(cluster, stop.Token);
            var writers = Enumerable.Range(0, cluster.Silos.Count).Select(load.CreateServicesAsync).ToList();
            var failedRegistrations = new ConcurrentQueue<string>();
            var nodeTickets = System.Threading.Channels.Channel.CreateUnbounded<int>();
            var registrations = Task.Run(async () =>
            {
                var running = new List<Task>();
                await foreach (var i in nodeTickets.Reader.ReadAllAsync(CancellationToken.None))
                {
                    running.Add(Task.Run(async () =>
                    {
                        // A registration in flight to a silo that dies fails (at worst after the
                        // client's response timeout, see OrchestratorClientOptions); the agent tries again.
                        while (!stop.IsCancellationRequested)
                        {
                            try
                            {
                                var group = await StartFakeNodesAsync(cluster, [$"n{i}-a", $"n{i}-b"]);
                                lock (groups)
                                {
                                    groups.Add(group);
                                }
                                load.AddNodes(2);
                                return;
                            }
                            catch (Exception ex) when (ex is TimeoutException or OrleansException or ApiException { Code: 503 })
                            {
                                failedRegistrations.Enqueue($"n{i}: {ex.GetType().Name}");
                            }
                        }
                    }));
                }
                await Task.WhenAll(running);
            });
            var nextNodes = 0;
            async Task AllocateAsync(string what)
            {
                var (services, nodes) = (load.Created, load.NodesRegistered);
                load.Allow(30);
                for (var i = 0; i < 3; i++)
                {
                    await nodeTickets.Writer.WriteAsync(nextNodes++);
                }
                await Eventually.Until<object>(() => Task.FromResult<object?>(load.Created >= services + 30 && load.NodesRegistered >= nodes + 2
                    ? new object()
                    : throw new InvalidOperationException($"{load.Created - services} services and {load.NodesRegistered - nodes} nodes so far")), what, Slow);
                phases.Log($"{load.Created} services and {load.NodesRegistered} node registrations so far");
            }

            await AllocateAsync("allocations before the first crash");

            // Crash the silo of the service IP allocator, then (if it lived elsewhere) the silo of
            // the pod CIDR allocator, with creations and registrations running across each crash.
            foreach (var allocator in new IAddressable[] { ipAllocator, cidrAllocator })
            {
                if (await cluster.HostOfAsync(allocator) is not { } victim || cluster.Silos.Count == 1)
                {
                    continue;
                }
                var next = AllocateAsync("allocations to go on after the crash");
                await cluster.KillAsync(victim);
                phases.Log($"killed {victim}, host of {allocator.GetGrainId()}");
                await next;
            }

            await stop.CancelAsync();
            nodeTickets.Writer.Complete();
            await Task.WhenAll(writers);
            await registrations;
            Assert.True(load.Unexpected.IsEmpty, "unexpected answers:\n" + string.Join("\n", load.Unexpected.Take(5)));

            var api = Api(cluster.Silos[0]);
            var services = await ListEventuallyAsync<Service>(api, "/api/v1/namespaces/default/services");
            var duplicateIps = services.GroupBy(s => s.Spec.ClusterIP).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(s => s.Metadata.Name))}");
            Assert.Empty(duplicateIps);
            foreach (var (name, ip) in load.Accepted)
            {
                Assert.Equal(ip, services.Single(s => s.Metadata.Name == name).Spec.ClusterIP);
            }

            var nodes = await ListEventuallyAsync<Node>(api, "/api/v1/nodes");
            output.WriteLine($"registrations that failed with their silo: {string.Join(", ", failedRegistrations)}");
            var started = groups.SelectMany(g => g.Agents.Keys).ToHashSet();
            Assert.Subset(nodes.Select(n => n.Metadata.Name!).ToHashSet(), started);
            Assert.All(nodes, n => Assert.False(string.IsNullOrEmpty(n.Spec.PodCIDR), $"node {n.Metadata.Name} has no pod CIDR"));
            var duplicateCidrs = nodes.GroupBy(n => n.Spec.PodCIDR).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(n => n.Metadata.Name))}");
            Assert.Empty(duplicateCidrs);

            // One activation of each allocator, cluster-wide.
            var management = client.GetGrain<IManagementGrain>(0);
            Assert.Equal(1, await management.GetGrainActivationCount((GrainReference)ipAllocator));
            Assert.Equal(1, await management.GetGrainActivationCount((GrainReference)cidrAllocator));
            phases.Log($"checked {services.Count} services and {nodes.Count} nodes");

            await Task.WhenAll(groups.Select(g => g.DisposeAsync().AsTask()));
        });
    }

    /// <summary>Creates services through one silo's API each (through a survivor once its silo
    /// is gone), recording what was accepted and any answer other than 201 or a clean 503.</summary>
    private sealed class AllocationLoad(LocalCluster cluster, CancellationToken stop)
    {
        private readonly SemaphoreSlim _tickets = new(0);
        private int _created;

        /// <summary>Lets the writers create <paramref name="count"/> more services.</summary>
        public void Allow(int count) => _tickets.Release(count);

        public ConcurrentDictionary<string, string?> Accepted { get; } = new();

        public ConcurrentQueue<string> Unexpected { get; } = new();

        public int Created => Volatile.Read(ref _created);

        private int _nodesRegistered;

        public int NodesRegistered => Volatile.Read(ref _nodesRegistered);

        public void AddNodes(int count) => Interlocked.Add(ref _nodesRegistered, count);

        public Task CreateServicesAsync(int writer) => Task.Run(async () =>
        {
            var silo = cluster.Silos[writer];
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    await _tickets.WaitAsync(stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                if (silo.Process.HasExited)
                {
                    var alive = cluster.Silos.Where(s => !s.Process.HasExited).ToList();
                    silo = alive[writer % alive.Count];
                }
                var name = $"s{writer}-{i}";
                try
                {
                    using var response = await Api(silo).SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/services",
                        ResourceJson.SerializeToString(ClusterIpService(name)));
                    var text = await response.Content.ReadAsStringAsync();
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        Accepted[name] = System.Text.Json.JsonSerializer.Deserialize<Service>(text, ResourceJson.Lenient)!.Spec.ClusterIP;
                        Interlocked.Increment(ref _created);
                    }
                    else if (response.StatusCode == HttpStatusCode.ServiceUnavailable && text.Contains("\"reason\":\"ServiceUnavailable\"", StringComparison.Ordinal))
                    {
                        _tickets.Release();
                    }
                    else
                    {
                        Unexpected.Enqueue($"{name}: {(int)response.StatusCode} {text}");
                    }
                }
                catch (HttpRequestException ex)
                {
                    // Fine when the silo behind this API was just killed.
                    try
                    {
                        await silo.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
                    }
                    catch (TimeoutException)
                    {
                        Unexpected.Enqueue($"{name}: {ex.Message}");
                    }
                    _tickets.Release();
                }
            }
        });
    }
}
