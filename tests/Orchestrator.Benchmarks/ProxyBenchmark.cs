using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeAgent;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.NodeAgent.Proxy;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.Silo.Hosting;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Benchmarks;

/// <summary>
/// The service proxy: (1) from a pod becoming Ready to its endpoint being routable on every node
/// (DNAT rule written into every node's nat table), p50 and p99 over pods made Ready one after
/// another; (2) how long one agent takes to program N services of M endpoints each (Kubernetes'
/// iptables proxy is known to slow down at 1,000 x 10): the first sync into an empty table, the
/// sync of an agent restarting over the same rules, and a sync after one endpoint changed.
/// The control plane runs in this process; pods run on hollow nodes (the fake runtime: Ready as
/// soon as the agent reports them); each node's proxy is the agent's own ServiceProxy programming
/// a network namespace of its own through nsenter. Needs root and iptables; everything it makes
/// (namespaces, data directory) is removed at the end.
/// Run: dotnet run -c Release --project tests/Orchestrator.Benchmarks -- proxy [--nodes 3] [--pods 50] [--services 1000] [--endpoints 10]
/// </summary>
[SupportedOSPlatform("linux")]
public static class ProxyBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var nodeCount = Option(args, "--nodes", 3);
        var podCount = Option(args, "--pods", 50);
        var serviceCount = Option(args, "--services", 1000);
        var endpointCount = Option(args, "--endpoints", 10);
        if (!HostCommand.IsRoot)
        {
            Console.Error.WriteLine("proxy programs iptables in network namespaces: run it as root.");
            return 1;
        }
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var work = Path.Combine(Path.GetTempPath(), $"orch-bench-proxy-{suffix}");
        Directory.CreateDirectory(work);
        var netns = Enumerable.Range(1, nodeCount).Select(i => $"orch-bench-{suffix}-n{i}").ToList();
        var httpPort = SiloRunner.FreePort();
        var silo = SiloApp.Build(
        [
            $"--urls=https://127.0.0.1:{httpPort}",
            $"--Orchestrator:DataDirectory={Path.Combine(work, "silo")}",
            $"--Orchestrator:SiloPort={SiloRunner.FreePort()}",
            $"--Orchestrator:GatewayPort={SiloRunner.FreePort()}",
            $"--Orchestrator:ClusterId=bench-{suffix}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Orleans=Error",
            "--Logging:LogLevel:Orleans.Runtime.Silo=Error",
            "--Logging:LogLevel:Orleans.Runtime.SiloOptionsLogger=Error",
        ]);
        try
        {
            foreach (var ns in netns)
            {
                await HostCommand.CheckAsync("ip", ["netns", "add", ns]);
            }
            await silo.StartAsync();
            var grains = silo.Services.GetRequiredService<IGrainFactory>();
            // The admin kubeconfig the silo wrote in its data directory; HttpClient's default timeout.
            using var http = Kubeconfig.AdminClient($"https://127.0.0.1:{httpPort}", Path.Combine(work, "silo", "admin.kubeconfig"), TimeSpan.FromSeconds(100));
            await WaitAsync(async () => (await http.GetAsync("/api/v1/namespaces/default")).IsSuccessStatusCode, "the silo");
            await grains.GetGrain<INamespaceGrain>("bench").CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = "bench" } });
            Console.WriteLine($"proxy: {nodeCount} nodes (a network namespace each), {Environment.ProcessorCount} cores, {(await HostCommand.CheckAsync("iptables", ["--version"])).Trim()}");

            var latencies = await ReadyToRoutableAsync(grains, netns, podCount);
            Console.WriteLine($"Ready -> routable on all {nodeCount} nodes, {latencies.Count} pods one after another: p50 {Stats.Median(latencies):F0} ms, p99 {Stats.Percentile(latencies, 99):F0} ms, max {latencies.Max():F0} ms");

            await ScaleAsync(grains, netns[0], serviceCount, endpointCount);
            return 0;
        }
        finally
        {
            await silo.StopAsync();
            await silo.DisposeAsync();
            foreach (var ns in netns)
            {
                await HostCommand.RunAsync("ip", ["netns", "delete", ns]);
            }
            Directory.Delete(work, recursive: true);
        }
    }

    private static NodeAgentOptions Options(string node) => new()
    {
        NodeName = node,
        Runtime = "fake",
        NodeIP = "127.0.0.1",
        Cpu = "64",
        Memory = "256Gi",
        MaxPods = 250,
    };

    private static ServiceProxy Proxy(IGrainFactory grains, string node, string netns) =>
        new(node, Options(node), grains, new Iptables(["nsenter", $"--net=/run/netns/{netns}"]), TimeProvider.System, NullLogger.Instance);

    /// <summary>Pods created one at a time behind one service; for each, the time from its Ready
    /// condition's transition to the moment the last node's proxy had written its DNAT rule.</summary>
    private static async Task<List<double>> ReadyToRoutableAsync(IGrainFactory grains, IReadOnlyList<string> netns, int pods)
    {
        var nodes = netns.Select((_, i) => $"bench-n{i + 1}").ToList();
        await using var group = new NodeAgentGroup(nodes, Options(nodes[0]), grains, _ => new FakeRuntime(TimeProvider.System), TimeProvider.System, NullLogger.Instance);
        await group.StartAsync(CancellationToken.None);
        await grains.GetGrain<IServiceGrain>("bench/web").CreateAsync(new Service
        {
            Metadata = new ObjectMeta { Name = "web", Namespace = "bench" },
            Spec = new ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "web" }, Ports = [new ServicePort { Port = 80, TargetPort = 8080 }] },
        });
        var chain = ProxyRules.ServiceChain("bench/web:80", "TCP");
        // (node, pod IP) -> when that node's proxy first held a DNAT rule for it.
        var routed = new ConcurrentDictionary<(int, string), DateTimeOffset>();
        var proxies = new List<ServiceProxy>();
        for (var i = 0; i < netns.Count; i++)
        {
            var proxy = Proxy(grains, nodes[i], netns[i]);
            var node = i;
            proxy.Synced += _ =>
            {
                var now = DateTimeOffset.UtcNow;
                if (proxy.Applied?.Chains.TryGetValue(chain, out var rules) == true)
                {
                    foreach (var rule in rules)
                    {
                        var at = rule.IndexOf("--to-destination ", StringComparison.Ordinal);
                        if (at >= 0)
                        {
                            routed.TryAdd((node, rule[(at + 17)..rule.LastIndexOf(':')]), now);
                        }
                    }
                }
            };
            proxy.Start();
            proxies.Add(proxy);
        }
        try
        {
            var latencies = new List<double>();
            for (var p = 0; p < pods; p++)
            {
                var key = $"bench/web-{p}";
                await grains.GetGrain<IPodGrain>(key).CreateAsync(new Pod
                {
                    Metadata = new ObjectMeta { Name = $"web-{p}", Namespace = "bench", Labels = new Dictionary<string, string> { ["app"] = "web" } },
                    Spec = new PodSpec { Containers = [new Container { Name = "main", Image = "busybox", Ports = [new ContainerPort { Port = 8080 }] }] },
                });
                Pod? pod = null;
                await WaitAsync(async () => (pod = await grains.GetGrain<IPodGrain>(key).GetAsync()) is { } x && x.IsReady() && x.Status?.PodIP is not null, $"pod {key} Ready", poll: 5);
                var ready = pod!.Status!.Conditions!.First(c => c.Type == PodConditionType.Ready).LastTransitionTime!.Value;
                var ip = pod.Status.PodIP!;
                await WaitAsync(() => Task.FromResult(Enumerable.Range(0, netns.Count).All(n => routed.ContainsKey((n, ip)))), $"{ip} routed on every node", poll: 2);
                var last = Enumerable.Range(0, netns.Count).Max(n => routed[(n, ip)]);
                latencies.Add((last - ready).TotalMilliseconds);
            }
            // What the proxies wrote is what the kernels hold.
            for (var i = 0; i < netns.Count; i++)
            {
                var save = await HostCommand.CheckAsync("nsenter", [$"--net=/run/netns/{netns[i]}", "iptables-save", "-t", "nat"]);
                var held = save.Split('\n').Count(l => l.StartsWith($"-A {chain} ", StringComparison.Ordinal) && l.Contains("DNAT", StringComparison.Ordinal));
                if (held != pods)
                {
                    throw new InvalidOperationException($"node {i + 1} holds {held} DNAT rules for {pods} pods");
                }
            }
            return latencies;
        }
        finally
        {
            foreach (var proxy in proxies)
            {
                await proxy.DisposeAsync();
            }
            await grains.GetGrain<IServiceGrain>("bench/web").DeleteAsync(DeleteOptions.Default);
        }
    }

    /// <summary>N services without selectors, each with an Endpoints object of M addresses spread
    /// over three nodes, then one proxy programming them into an empty namespace, again as after
    /// a restart, and once more after one endpoint changed.</summary>
    private static async Task ScaleAsync(IGrainFactory grains, string netns, int services, int endpoints)
    {
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, services), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (s, _) =>
        {
            var name = $"s{s}";
            await grains.GetGrain<IServiceGrain>($"bench/{name}").CreateAsync(new Service
            {
                Metadata = new ObjectMeta { Name = name, Namespace = "bench" },
                Spec = new ServiceSpec { Ports = [new ServicePort { Port = 80, TargetPort = 8080 }] },
            });
            await grains.GetGrain<IEndpointsGrain>($"bench/{name}").CreateAsync(Endpoints(name, s, endpoints, 0));
        });
        Console.WriteLine($"{services} services x {endpoints} endpoints created in {clock.Elapsed.TotalSeconds:F1} s");

        // Clean the namespace of the first part's rules: the first sync below starts from nothing.
        await HostCommand.RunAsync("ip", ["netns", "delete", netns]);
        await HostCommand.CheckAsync("ip", ["netns", "add", netns]);

        var first = await FirstSyncAsync(grains, netns, services);
        Console.WriteLine($"first sync into an empty table: {first.Total:F0} ms from start (list {first.Total - first.Sync.Duration.TotalMilliseconds:F0} ms, sync {first.Sync.Duration.TotalMilliseconds:F0} ms of which iptables-restore {first.Sync.RestoreDuration.TotalMilliseconds:F0} ms), {first.Sync.Rules} rules, {first.Sync.Written} lines written");
        var again = await FirstSyncAsync(grains, netns, services, then: async proxy =>
        {
            var before = proxy.LastSync;
            await grains.GetGrain<IEndpointsGrain>("bench/s0").UpdateAsync(Endpoints("s0", 0, endpoints, 1) with
            {
                Metadata = (await grains.GetGrain<IEndpointsGrain>("bench/s0").GetAsync())!.Metadata,
            });
            await WaitAsync(() => Task.FromResult(proxy.LastSync != before && proxy.LastSync!.Written > 0), "the change synced", poll: 2);
            return proxy.LastSync!;
        });
        Console.WriteLine($"restart over the same rules: {again.Total:F0} ms from start (sync {again.Sync.Duration.TotalMilliseconds:F0} ms: iptables-save and compare, {again.Sync.Written} lines written)");
        Console.WriteLine($"one endpoint changed: sync {again.Then!.Duration.TotalMilliseconds:F0} ms (iptables-restore {again.Then.RestoreDuration.TotalMilliseconds:F0} ms, {again.Then.Written} lines written)");
        var save = await HostCommand.CheckAsync("nsenter", [$"--net=/run/netns/{netns}", "iptables-save", "-t", "nat"]);
        var dnat = save.Split('\n').Count(l => l.Contains("-j DNAT", StringComparison.Ordinal));
        Console.WriteLine($"the table holds {dnat} DNAT rules ({services} x {endpoints} = {services * endpoints} expected)");
    }

    private static Endpoints Endpoints(string name, int s, int count, int generation) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = "bench" },
        Subsets =
        [
            new EndpointSubset
            {
                Addresses = Enumerable.Range(0, count).Select(e => new EndpointAddress
                {
                    Ip = $"10.{100 + generation}.{(s * count + e) / 250}.{(s * count + e) % 250 + 1}",
                    NodeName = $"bench-n{(e % 3) + 1}",
                }).ToList(),
                Ports = [new EndpointPort { Port = 8080, Protocol = "TCP" }],
            },
        ],
    };

    private sealed record FirstSync(double Total, ProxySyncResult Sync, ProxySyncResult? Then);

    private static async Task<FirstSync> FirstSyncAsync(IGrainFactory grains, string netns, int services, Func<ServiceProxy, Task<ProxySyncResult>>? then = null)
    {
        var proxy = Proxy(grains, "bench-n1", netns);
        var clock = Stopwatch.StartNew();
        var synced = new TaskCompletionSource<ProxySyncResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        proxy.Synced += r =>
        {
            if (r.ServicePorts >= services)
            {
                synced.TrySetResult(r);
            }
        };
        proxy.Start();
        try
        {
            var result = await synced.Task.WaitAsync(TimeSpan.FromMinutes(2));
            var total = clock.Elapsed.TotalMilliseconds;
            return new FirstSync(total, result, then is null ? null : await then(proxy));
        }
        finally
        {
            await proxy.DisposeAsync();
        }
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what, int poll = 50)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }
            await Task.Delay(poll);
        }
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
