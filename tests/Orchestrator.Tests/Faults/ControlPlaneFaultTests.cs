using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Runtime.Versioning;
using System.Text.Json;
using System.Text.Json.Nodes;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;
using Orchestrator.Tests.MultiNode;
using Orchestrator.Grains;
using Xunit.Abstractions;
using static Orchestrator.Tests.Cluster.ClusterTestSupport;

namespace Orchestrator.Tests.Faults;

/// <summary>
/// Faults of the control plane under real nodes: a silo killed with kill -9 while a burst of pods
/// is created and bound, and Redis and PostgreSQL restarted. After each, every workload has its
/// desired pods Running, no pod runs twice or was bound twice, every write the API accepted is
/// still there, and nodes and agents came through without a hand.
/// </summary>
[Collection(ClusterFaultsCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class ControlPlaneFaultTests(ClusterFaultsFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly List<string> _namespaces = [];
    private readonly FaultSupport _f = new(fixture.Cluster, () => fixture.Api, output);

    private LocalCluster ControlPlane => fixture.ControlPlane;

    private MultiNodeCluster Cluster => fixture.Cluster;

    public async Task InitializeAsync()
    {
        foreach (var node in Cluster.Nodes)
        {
            await _f.WaitNodeAsync(node, FaultSupport.ReadyWithoutTaints, "Ready without taints", 90);
        }
    }

    public async Task DisposeAsync()
    {
        if (Environment.GetEnvironmentVariable("ORCH_FAULTS_DUMP") is { Length: > 0 } dump)
        {
            foreach (var node in Cluster.Nodes)
            {
                File.WriteAllText(Path.Combine(dump, $"agent-{node.Index}.log"), node.Agent?.Output ?? "");
            }
            File.WriteAllText(Path.Combine(dump, "silos.log"), ControlPlane.Logs(400));
        }
        foreach (var ns in _namespaces)
        {
            await _f.DeleteNamespaceAsync(ns);
        }
    }

    private async Task<string> NewNamespaceAsync()
    {
        var ns = $"fault-{Guid.NewGuid().ToString("N")[..8]}";
        await CreateEventuallyAsync(_f.Api, "/api/v1/namespaces", new Namespace { Metadata = new ObjectMeta { Name = ns } });
        _namespaces.Add(ns);
        return ns;
    }

    [Fact]
    public async Task KillingASiloDuringABurstOfPodsLosesNoWriteAndRunsEveryPodOnce()
    {
        await RunAsync(ControlPlane, output, async () =>
        {
            var ns = await NewNamespaceAsync();
            var client = await ControlPlane.ClientAsync();
            // The victim hosts the scheduler: the burst's binds are in its hands when it dies.
            var victim = await Eventually.Until(() => ControlPlane.HostOfAsync(client.GetGrain<ISchedulerGrain>(SchedulerGrainKeys.Default)), "the scheduler's silo");
            var survivors = ControlPlane.Silos.Where(s => s != victim).ToList();
            _f.Phase($"victim {victim}, which hosts the scheduler");

            // The burst, through the survivors' APIs: a deployment of 6 and 6 bare pods at once.
            const int Replicas = 6;
            const int Bare = 6;
            var burst = Stopwatch.StartNew();
            var deployment = CreateEventuallyAsync(Api(survivors[0]), $"/apis/apps/v1/namespaces/{ns}/deployments", FaultSupport.Sleepers("burst", Replicas), Slow);
            var bare = Enumerable.Range(0, Bare).Select(i => CreateEventuallyAsync(Api(survivors[i % 2]), $"/api/v1/namespaces/{ns}/pods", Unpinned($"solo-{i}"), Slow)).ToList();
            // Kill when the burst is under way: the deployment accepted (its replica set is
            // creating pods) and some pods waiting for the scheduler or being bound.
            await _f.WaitAsync(async () => deployment.IsCompleted || (await _f.PodsAsync(ns)).Count >= 3, "the burst under way", 60);
            await ControlPlane.KillAsync(victim);
            _f.Phase($"kill -9 of {victim} {FaultSupport.Seconds(burst.Elapsed)} into the burst");
            var accepted = new List<IResource>();
            accepted.Add(await deployment);
            foreach (var pod in bare)
            {
                accepted.Add(await pod);
            }
            _f.Phase($"every write of the burst accepted {FaultSupport.Seconds(burst.Elapsed)} after it began");

            await _f.WaitAsync(async () => (await _f.PodsAsync(ns)).Count(p => p.IsActive() && p.Spec.NodeName is not null) == Replicas + Bare, "every pod bound", 90,
                () => FaultSupport.Describe(_f.PodsAsync(ns).GetAwaiter().GetResult()));
            _f.Phase($"all {Replicas + Bare} pods bound {FaultSupport.Seconds(burst.Elapsed)} after the burst began");
            await _f.WaitDeploymentRunningAsync(ns, "burst", Replicas, seconds: 90);
            foreach (var i in Enumerable.Range(0, Bare))
            {
                await _f.WaitPodAsync(ns, $"solo-{i}", FaultSupport.IsRunning, "Running", 60);
            }
            _f.Phase($"all {Replicas + Bare} pods Running {FaultSupport.Seconds(burst.Elapsed)} after the burst began");

            // Nothing accepted was lost or replaced, every pod was bound once, runs once.
            foreach (var obj in accepted)
            {
                var path = obj is Deployment ? $"/apis/apps/v1/namespaces/{ns}/deployments/{obj.Metadata.Name}" : $"/api/v1/namespaces/{ns}/pods/{obj.Metadata.Name}";
                var now = await Eventually.Until(() => _f.Api.TryGetAsync<JsonObject>(path), $"{path} after the failover", Slow);
                Assert.Equal(obj.Metadata.Uid, now["metadata"]!["uid"]!.GetValue<string>());
            }
            await AssertBoundOnceAsync(ns);
            await _f.WaitContainersConvergedAsync();
            await _f.AssertCountedOnceAsync(ns, "burst", Replicas);
            _f.Phase("converged: nothing lost, every pod bound once and running once");

            await fixture.RestartSiloAsync(victim);
            _f.Phase($"{victim} started again on its ports");
        });
    }

    [Fact]
    public async Task RestartingRedisAndPostgresKeepsNodesAndPodsAndLosesNoAcceptedWrite()
    {
        await RunAsync(ControlPlane, output, async () =>
        {
            var ns = await NewNamespaceAsync();
            await CreateEventuallyAsync(_f.Api, $"/apis/apps/v1/namespaces/{ns}/deployments", FaultSupport.Sleepers("web", 3));
            var pods = await _f.WaitDeploymentRunningAsync(ns, "web", 3);
            var before = pods.Select(p => (p.Metadata.Uid, p.Status!.ContainerStatuses![0].ContainerID)).Order().ToList();
            _f.Phase("3 replicas running");
            var readySince = new Dictionary<ClusterNode, DateTimeOffset?>();
            foreach (var node in Cluster.Nodes)
            {
                readySince[node] = (await _f.WaitNodeAsync(node, FaultSupport.ReadyWithoutTaints, "Ready")).ReadyCondition()!.LastTransitionTime;
            }

            using var stop = new CancellationTokenSource();
            var load = new Writes(ControlPlane.Silos, ns);
            var writers = Enumerable.Range(0, 2).Select(w => load.RunAsync(w, stop.Token)).ToList();
            try
            {
                await load.WaitAcceptedAsync(5, "writes before the restarts");

                var logged = ControlPlane.Silos.Select(s => s.Process.LogLength).ToList();
                await fixture.Redis.StopAsync();
                _f.Phase("Redis stopped");
                await Eventually.True(() => ControlPlane.Silos.Select((s, i) => s.Process.LoggedSince(logged[i], "Failed to update table entry for this silo")).Any(b => b),
                    "a silo to notice that Redis is down", Slow);
                await load.WaitAcceptedAsync(5, "writes while Redis is down");
                await fixture.Redis.StartAsync();
                _f.Phase($"Redis started again; {load.Accepted.Count} writes accepted");
                await load.WaitAcceptedAsync(5, "writes after Redis is back");

                await fixture.Postgres.StopAsync();
                _f.Phase("PostgreSQL stopped");
                await Eventually.True(() => load.Unavailable >= 5, "writes answered 503 while PostgreSQL is down", Slow);
                await fixture.Postgres.StartAsync();
                _f.Phase($"PostgreSQL started again after {load.Unavailable} answers of 503");
                await load.WaitAcceptedAsync(5, "writes after PostgreSQL is back");
            }
            finally
            {
                await stop.CancelAsync();
                await Task.WhenAll(writers);
            }
            Assert.True(load.Unexpected.IsEmpty, "answers other than 201 and a clean 503:\n" + string.Join("\n", load.Unexpected.Take(5)));

            // The nodes never lost their lease (Ready since before the restarts), so nothing was
            // evicted or restarted.
            foreach (var node in Cluster.Nodes)
            {
                var n = await _f.WaitNodeAsync(node, FaultSupport.ReadyWithoutTaints, "Ready");
                Assert.Equal(readySince[node], n.ReadyCondition()!.LastTransitionTime);
            }
            var now = await _f.WaitDeploymentRunningAsync(ns, "web", 3);
            Assert.Equal(before, now.Select(p => (p.Metadata.Uid, p.Status!.ContainerStatuses![0].ContainerID)).Order().ToList());
            Assert.All(now, p => Assert.Equal(0, p.Status!.ContainerStatuses![0].RestartCount));

            // Every accepted write is there.
            var services = (await ListEventuallyAsync<Service>(_f.Api, $"/api/v1/namespaces/{ns}/services")).ToDictionary(s => s.Metadata.Name!);
            foreach (var (name, accepted) in load.Accepted)
            {
                Assert.True(services.TryGetValue(name, out var stored), $"service {name} was accepted and then lost");
                Assert.Equal(accepted.Metadata.Uid, stored.Metadata.Uid);
                Assert.Equal(accepted.Spec.ClusterIP, stored.Spec.ClusterIP);
            }

            // And the cluster works: a scale-up runs on the nodes.
            var d = await _f.Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/web");
            // Without a resourceVersion: the controller may write the status between the GET and this.
            using var put = await _f.Api.SendAsync(HttpMethod.Put, $"/apis/apps/v1/namespaces/{ns}/deployments/web", Json(d with { Metadata = d.Metadata with { ResourceVersion = null }, Spec = d.Spec with { Replicas = 5 } }));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            await _f.WaitDeploymentRunningAsync(ns, "web", 5);
            await _f.WaitContainersConvergedAsync();
            await _f.AssertCountedOnceAsync(ns, "web", 5);
            _f.Phase($"converged: {load.Accepted.Count} accepted writes all kept, the same 3 containers, scaled to 5");
        });
    }

    private static Pod Unpinned(string name) => new()
    {
        Metadata = new ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["bare"] = "true" } },
        Spec = new PodSpec { Containers = [FaultSupport.Sleeper()], TerminationGracePeriodSeconds = 1 },
    };

    /// <summary>Every pod of the namespace was bound once: a second bind would be a second
    /// "Scheduled" event (another node) or the same one counted up.</summary>
    private async Task AssertBoundOnceAsync(string ns)
    {
        var events = await ListEventuallyAsync<Event>(_f.Api, $"/api/v1/namespaces/{ns}/events");
        foreach (var pod in await ListEventuallyAsync<Pod>(_f.Api, $"/api/v1/namespaces/{ns}/pods"))
        {
            var scheduled = events.Where(e => e.InvolvedObject.Uid == pod.Metadata.Uid && e.Reason == "Scheduled").ToList();
            Assert.True(scheduled.Count <= 1 && scheduled.All(e => e.Count == 1), $"pod {pod.Metadata.Name} was scheduled more than once: {Json(scheduled)}");
        }
    }

    /// <summary>Writers creating services through the silos' APIs: each answer is accepted (201),
    /// a clean 503 Status, or recorded as unexpected.</summary>
    private sealed class Writes(IReadOnlyList<SiloProcess> silos, string ns)
    {
        private int _unavailable;

        public ConcurrentDictionary<string, Service> Accepted { get; } = new();

        public ConcurrentQueue<string> Unexpected { get; } = new();

        public int Unavailable => Volatile.Read(ref _unavailable);

        public Task WaitAcceptedAsync(int more, string what)
        {
            var target = Accepted.Count + more;
            return Eventually.True(() => Accepted.Count >= target, what, Slow);
        }

        public Task RunAsync(int writer, CancellationToken stop) => Task.Run(async () =>
        {
            var api = Api(silos[writer % silos.Count]);
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var name = $"w{writer}-{i}";
                using var response = await api.SendAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/services", ResourceJson.SerializeToString(ClusterIpService(name)));
                var text = await response.Content.ReadAsStringAsync(CancellationToken.None);
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    Accepted[name] = JsonSerializer.Deserialize<Service>(text, ResourceJson.Lenient)!;
                    // A steady trickle, not a flood: two cores also run the nodes.
                    await Task.Delay(50, CancellationToken.None);
                    continue;
                }
                if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null)
                {
                    Interlocked.Increment(ref _unavailable);
                    await Task.Delay(100, CancellationToken.None);
                    continue;
                }
                Unexpected.Enqueue($"{name}: {(int)response.StatusCode} {text}");
            }
        });
    }
}
