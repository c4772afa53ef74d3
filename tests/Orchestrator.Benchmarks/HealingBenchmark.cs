using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Grains;
using Orchestrator.Model;
using Orchestrator.NodeAgent;
using Orchestrator.Serialization;
using Orchestrator.Silo.Hosting;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;
using Orchestrator.Tests.MultiNode;

namespace Orchestrator.Benchmarks;

/// <summary>
/// Self-healing: a deployment of 12 replicas of busybox on three nodes of real containers (the
/// multi-node harness: a network namespace per node, an agent process each, one containerd);
/// in each trial the node running the most replicas is stopped hard (its agent killed with
/// SIGKILL, its containers killed, its network cut) and the clock runs until every one of its
/// pods has a replacement Running and Ready on another node. Also printed: when the node turned
/// unreachable and when its pods were evicted. The control plane runs in this process with the
/// default node lease, toleration and agent heartbeat (printed), so the figures are what a user
/// gets without tuning. Between trials the node comes back and the deployment is made afresh.
/// Needs root, containerd, runc, CNI plugins and busybox-static; everything it makes is removed.
/// Run: dotnet run -c Release --project tests/Orchestrator.Benchmarks -- healing [--trials 5] [--replicas 12]
/// </summary>
[SupportedOSPlatform("linux")]
public static class HealingBenchmark
{
    private const string Ns = "bench";

    public static async Task<int> RunAsync(string[] args)
    {
        var trials = Option(args, "--trials", 5);
        var replicas = Option(args, "--replicas", 12);
        if (!HostCommand.IsRoot)
        {
            Console.Error.WriteLine("healing runs real containers in network namespaces: run it as root.");
            return 1;
        }
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var work = Path.Combine(Path.GetTempPath(), $"orch-bench-heal-{suffix}");
        Directory.CreateDirectory(work);
        var httpPort = SiloRunner.FreePort();
        var gatewayPort = SiloRunner.FreePort();
        var clusterId = $"bench-{suffix}";
        var silo = SiloApp.Build(
        [
            $"--urls=https://127.0.0.1:{httpPort}",
            $"--Orchestrator:DataDirectory={Path.Combine(work, "silo")}",
            $"--Orchestrator:SiloPort={SiloRunner.FreePort()}",
            $"--Orchestrator:GatewayPort={gatewayPort}",
            $"--Orchestrator:ClusterId={clusterId}",
            $"--Orchestrator:ClusterCidr=10.{200 + Random.Shared.Next(50)}.0.0/16",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Orleans=Error",
            "--Logging:LogLevel:Orleans.Runtime.Silo=Error",
            "--Logging:LogLevel:Orleans.Runtime.SiloOptionsLogger=Error",
        ]);
        ContainerdInstance? containerd = null;
        MultiNodeCluster? cluster = null;
        try
        {
            containerd = await ContainerdInstance.StartAsync(Path.Combine(work, "containerd"), TimeSpan.FromSeconds(20));
            await silo.StartAsync();
            var options = silo.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ControlPlaneOptions>>().Value;
            // The admin kubeconfig the silo wrote in its data directory; HttpClient's default timeout.
            using var http = Kubeconfig.AdminClient($"https://127.0.0.1:{httpPort}", Path.Combine(work, "silo", "admin.kubeconfig"), TimeSpan.FromSeconds(100));
            cluster = await MultiNodeCluster.StartAsync(new MultiNodeSettings
            {
                Nodes = 3,
                Containerd = containerd,
                Grains = silo.Services.GetRequiredService<IGrainFactory>(),
                GatewayPort = gatewayPort,
                ClusterId = clusterId,
                Join = new AgentJoin($"https://127.0.0.1:{httpPort}", Path.Combine(work, "silo", "node-token")),
                WorkDirectory = work,
            });
            await SendAsync(http, HttpMethod.Post, "/api/v1/namespaces", new Namespace { Metadata = new ObjectMeta { Name = Ns } });
            Console.WriteLine($"healing: {replicas} replicas on {cluster.Nodes.Count} nodes of real containers, {Environment.ProcessorCount} cores");
            Console.WriteLine($"settings (defaults): node lease {options.NodeLeaseDuration.TotalSeconds:0.#} s, default toleration {options.DefaultTolerationSeconds.TotalSeconds:0.#} s, "
                + $"agent heartbeat every {new NodeAgentOptions().HeartbeatInterval.TotalSeconds:0.#} s");

            var unreachable = new List<double>();
            var evicted = new List<double>();
            var replaced = new List<double>();
            for (var trial = 1; trial <= trials; trial++)
            {
                var (u, e, r, moved, victim) = await TrialAsync(http, cluster, $"heal-{trial}", replicas);
                unreachable.Add(u);
                evicted.Add(e);
                replaced.Add(r);
                Console.WriteLine($"trial {trial}: stopped {victim} with {moved} replicas; unreachable after {u:0.0} s, pods evicted after {e:0.0} s, all replaced and Running after {r:0.0} s");
            }
            Console.WriteLine($"median of {trials}: node stopped -> unreachable {Stats.Median(unreachable):0.0} s, -> evicted {Stats.Median(evicted):0.0} s, "
                + $"-> replacements Running {Stats.Median(replaced):0.0} s (max {replaced.Max():0.0} s; Kubernetes' defaults: about 350 s)");
            return 0;
        }
        finally
        {
            if (cluster is not null)
            {
                await cluster.DisposeAsync();
            }
            await silo.StopAsync();
            await silo.DisposeAsync();
            if (containerd is not null)
            {
                await containerd.DisposeAsync();
            }
            foreach (var mountPoint in ContainerdInstance.MountsUnder(work))
            {
                await HostCommand.RunAsync("umount", ["--lazy", mountPoint]);
            }
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>One trial; seconds from the stop to the node unreachable, to its pods evicted, to
    /// every replica Running and Ready elsewhere.</summary>
    private static async Task<(double Unreachable, double Evicted, double Replaced, int Moved, ClusterNode Victim)> TrialAsync(
        HttpClient http, MultiNodeCluster cluster, string name, int replicas)
    {
        await SendAsync(http, HttpMethod.Post, $"/apis/apps/v1/namespaces/{Ns}/deployments", Sleepers(name, replicas));
        var pods = await WaitAsync(async () => await PodsAsync(http, name) is var p && p.Count(Running) == replicas ? p : null, $"{replicas} pods of {name} Running", 120);
        var victim = cluster.Nodes.OrderByDescending(n => pods.Count(p => p.Spec.NodeName == n.Name)).First();
        var moving = pods.Where(p => p.Spec.NodeName == victim.Name).Select(p => p.Metadata.Uid).ToHashSet();

        var clock = Stopwatch.StartNew();
        await cluster.StopNodeAsync(victim);
        double? unreachable = null, evicted = null;
        await WaitAsync(async () =>
        {
            var node = JsonSerializer.Deserialize<Node>(await http.GetStringAsync($"/api/v1/nodes/{victim.Name}"), ResourceJson.Lenient)!;
            if (unreachable is null && !node.IsReady())
            {
                unreachable = clock.Elapsed.TotalSeconds;
            }
            var now = await PodsAsync(http, name);
            if (evicted is null && now.Where(p => moving.Contains(p.Metadata.Uid)).All(p => !p.IsActive()))
            {
                evicted = clock.Elapsed.TotalSeconds;
            }
            return now.Count(p => Running(p) && p.Spec.NodeName != victim.Name) == replicas ? now : null;
        }, $"replacements of the pods of {victim}", 120);
        var replaced = clock.Elapsed.TotalSeconds;

        // The node comes back (it fences the evicted pods), and the next trial starts afresh.
        await cluster.StartNodeAsync(victim);
        await WaitAsync(async () =>
        {
            var node = JsonSerializer.Deserialize<Node>(await http.GetStringAsync($"/api/v1/nodes/{victim.Name}"), ResourceJson.Lenient)!;
            return node.IsReady() && !(node.Spec.Taints ?? []).Any(t => t.Key is NodeTaints.Unreachable or NodeTaints.NotReady) ? node : null;
        }, $"{victim} Ready again", 120);
        using (await http.DeleteAsync($"/apis/apps/v1/namespaces/{Ns}/deployments/{name}"))
        {
        }
        await WaitAsync(async () => (await PodsAsync(http, name)).Count == 0 ? "" : null, $"the pods of {name} gone", 120);
        return (unreachable ?? replaced, evicted ?? replaced, replaced, moving.Count, victim);
    }

    private static bool Running(Pod p) => p.IsActive() && p.Status?.Phase == PodPhase.Running && p.IsReady();

    /// <summary>busybox that ends at once on SIGTERM (sh as PID 1 ignores it unless it traps it).</summary>
    private static Deployment Sleepers(string name, int replicas) => Manifests.Deployment(name, replicas, new PodSpec
    {
        Containers = [new Container { Name = "main", Image = "localhost/busybox:test", Command = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"] }],
        TerminationGracePeriodSeconds = 1,
    });

    private static async Task<List<Pod>> PodsAsync(HttpClient http, string app)
    {
        var list = JsonNode.Parse(await http.GetStringAsync($"/api/v1/namespaces/{Ns}/pods?labelSelector=app%3D{app}"))!;
        return [.. list["items"]!.AsArray().Select(item => item.Deserialize<Pod>(ResourceJson.Lenient)!)];
    }

    private static async Task SendAsync<T>(HttpClient http, HttpMethod method, string path, T body)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(ResourceJson.SerializeToString(body), Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request);
        if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.Conflict)
        {
            throw new InvalidOperationException($"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>Polls every 50 ms until <paramref name="probe"/> returns a value.</summary>
    private static async Task<T> WaitAsync<T>(Func<Task<T?>> probe, string what, int seconds) where T : class
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            if (await probe() is { } value)
            {
                return value;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"timed out after {seconds} s waiting for {what}");
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
