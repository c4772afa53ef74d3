using System.Net;
using System.Text.Json.Nodes;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;
using Xunit.Abstractions;
using static Orchestrator.Tests.Cluster.ClusterTestSupport;

namespace Orchestrator.Tests.Compose;

/// <summary>
/// The docker-compose cluster end to end: scripts/compose-up.sh builds the images and starts
/// docker-compose.yml (Redis, PostgreSQL, three silos, two nodes running real containers) with
/// examples/hello.yaml; one silo container is killed (docker kill); the two others keep serving
/// and nothing is lost; then scripts/compose-down.sh removes everything and the host is as before.
/// </summary>
/// <remarks>
/// Needs root and Debian's docker.io, docker-compose, containerd, runc, iptables, busybox-static
/// and debootstrap (the first run builds the base image from Debian's mirror and caches it in
/// /var/cache/orchestrator/compose). What is missing is named in the failure.
/// </remarks>
[Collection(ComposeCollection.Name)]
public sealed class ComposeTests(ITestOutputHelper output)
{
    private const string Ns = "compose";
    private const string Image = "localhost/busybox:test";

    /// <summary>compose-up.sh, cold: publish (~30 s), debootstrap (~1 min), images, start.</summary>
    private static readonly TimeSpan UpTimeout = TimeSpan.FromMinutes(10);

    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task KillingASiloContainerLosesNothing()
    {
        Assert.True(Containerd.HostCommand.IsRoot, "the compose test starts dockerd and runs containers: run it as root (CI does)");
        var phases = new Phases(output);
        var host = await HostSnapshot.TakeAsync();
        var cluster = await ComposeCluster.UpAsync(UpTimeout);
        await using (cluster)
        {
            phases.Log($"compose-up.sh: project {cluster.Project}, silos on 127.0.0.1:{string.Join(", ", cluster.ApiPorts)}; hello runs on both nodes");
            await AssertSecuredAsync(cluster);
            phases.Log("each silo serves HTTPS only, to the admin of compose-up.sh's kubeconfig (mode 0600); health is anonymous");
            try
            {
                await KillAndConvergeAsync(cluster, phases);
            }
            catch
            {
                output.WriteLine(await DescribeAsync(cluster));
                output.WriteLine(await cluster.LogsAsync(80));
                throw;
            }

            var down = await cluster.DownAsync();
            phases.Log("compose-down.sh");
            Assert.True(down.ExitCode == 0, $"compose-down.sh failed ({down.ExitCode}):\n{down.Tail}");
            await AssertHostCleanAsync(cluster, host);
            phases.Log("the host is as before");
        }
    }

    private async Task KillAndConvergeAsync(ComposeCluster cluster, Phases phases)
    {
        // More work, through another silo than the one compose-up.sh used.
        var silo2 = cluster.Api(2);
        await CreateEventuallyAsync(silo2, "/api/v1/namespaces", new Namespace { Metadata = new ObjectMeta { Name = Ns } });
        await CreateEventuallyAsync(silo2, $"/apis/apps/v1/namespaces/{Ns}/deployments", WebServer("web", 2));
        await CreateEventuallyAsync(silo2, $"/api/v1/namespaces/{Ns}/services", ClusterIpService("web"));
        await WaitAvailableAsync(silo2, Ns, Slow);
        await WaitAvailableAsync(silo2, "default", Slow);
        var before = await SettledSnapshotAsync(cluster.Api(1));
        phases.Log($"workload available and settled: {before.Count} objects");

        // silo1 served compose-up.sh's writes and was the first to start (the control plane's
        // singletons, the scheduler among them, are activated there at bootstrap).
        await cluster.DockerAsync("kill", cluster.Container("silo1"));
        phases.Log("docker kill silo1");

        // A write through a survivor at once, while the cluster still settles (silo1 is declared
        // dead a few seconds later): the new deployment's grain and the reminder service it
        // registers with may be on silo1, so the create can fail after the object was stored and
        // the retry finds it (409); it must reconcile all the same. Its pods need the scheduler,
        // wherever that lives now.
        await CreateEventuallyAsync(silo2, $"/apis/apps/v1/namespaces/{Ns}/deployments", WebServer("after", 2), Slow);
        phases.Log("first write through silo2 after the kill");
        foreach (var silo in new[] { 2, 3 })
        {
            var api = cluster.Api(silo);
            await WaitAvailableAsync(api, Ns, Slow);
            await WaitAvailableAsync(api, "default", Slow);
            AssertKept(before, await SnapshotAsync(api), $"silo{silo}");
        }
        phases.Log("every object kept with its resourceVersion, read through silo2 and silo3");
        await AssertPodsRunAsync(cluster, cluster.Api(3));
        phases.Log("every pod Running in a container on its node and answering HTTP");

        // The killed silo comes back (docker start: `docker kill` is a manual stop, which the
        // restart policy respects) and serves the same state.
        await cluster.DockerAsync("start", cluster.Container("silo1"));
        var silo1 = cluster.Api(1);
        await Eventually.True(async () => (await silo1.Http.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK, "silo1 to be ready again", Slow);
        var after = await Eventually.Until(() => silo1.TryGetAsync<Deployment>($"/apis/apps/v1/namespaces/{Ns}/deployments/after"), "silo1 to serve the deployment written while it was down", Slow);
        Assert.Equal(2, after.Status?.AvailableReplicas);
        AssertKept(before, await SnapshotAsync(silo1), "silo1 (restarted)");
        phases.Log("silo1 restarted and serves the same state");
    }

    /// <summary>What compose-up.sh wrote is a working admin kubeconfig of every silo, readable by
    /// its owner only; without a credential only health is served, and plain HTTP not at all.</summary>
    private static async Task AssertSecuredAsync(ComposeCluster cluster)
    {
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cluster.KubeconfigPath));
        }
        foreach (var silo in new[] { 1, 2, 3 })
        {
            var port = cluster.ApiPorts[silo - 1];
            Assert.Equal("default", (await cluster.Api(silo).GetAsync<Namespace>("/api/v1/namespaces/default")).Metadata.Name);
            using var anonymous = Infrastructure.Processes.Kubeconfig.AnonymousClient($"https://127.0.0.1:{port}", cluster.KubeconfigPath, TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/readyz")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/namespaces")).StatusCode);
            using var plain = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetAsync("/readyz"));
        }
    }

    /// <summary>For a failure message: the replica sets, pods and events as the silos still up
    /// see them (silo1 may be the one killed).</summary>
    private static async Task<string> DescribeAsync(ComposeCluster cluster)
    {
        var text = new System.Text.StringBuilder();
        foreach (var silo in new[] { 2, 3 })
        {
            var api = cluster.Api(silo);
            try
            {
                text.AppendLine($"--- through silo{silo}:");
                foreach (var rs in await api.ListAsync<ReplicaSet>("/apis/apps/v1/replicasets"))
                {
                    text.AppendLine($"replicaset {rs.Metadata.Namespace}/{rs.Metadata.Name}: replicas {rs.Spec.Replicas}, ready {rs.Status?.ReadyReplicas}, available {rs.Status?.AvailableReplicas}");
                }
                foreach (var pod in await api.ListAsync<Pod>("/api/v1/pods"))
                {
                    var conditions = string.Join("; ", pod.Status?.Conditions?.Select(c => $"{c.Type}={c.Status} {c.Reason} {c.Message}") ?? []);
                    text.AppendLine($"pod {pod.Metadata.Namespace}/{pod.Metadata.Name} rv {pod.Metadata.ResourceVersion}: node {pod.Spec.NodeName ?? "-"}, {pod.Status?.Phase}, ip {pod.Status?.PodIP}, {conditions}");
                }
                foreach (var e in await api.ListAsync<Event>($"/api/v1/namespaces/{Ns}/events"))
                {
                    text.AppendLine($"event {e.InvolvedObject.Name}: {e.Reason} x{e.Count} {e.Message}");
                }
                break;
            }
            catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or TaskCanceledException)
            {
                text.AppendLine($"({ex.Message})");
            }
        }
        return text.ToString();
    }

    /// <summary>A web server on port 8080 (busybox httpd serving the image's /var/www).</summary>
    private static Deployment WebServer(string name, int replicas) => Manifests.Deployment(name, replicas, new PodSpec
    {
        Containers = [new Container { Name = "main", Image = Image, Command = ["httpd", "-f", "-p", "8080", "-h", "/var/www"] }],
    });

    private sealed record Item(string Path, string Name, string Uid, string ResourceVersion, string Json);

    /// <summary>A snapshot once the workload has settled, so that any change seen after the kill
    /// is the failover's doing: every running ReplicaSet marked stable (its pods stayed Ready for
    /// the rollback window, 10 s by default: the deployment controller annotates it then), and
    /// nothing changed for a few seconds.</summary>
    private static async Task<List<Item>> SettledSnapshotAsync(ApiClient api)
    {
        var quiet = TimeSpan.FromSeconds(3);
        var last = await SnapshotAsync(api);
        var since = System.Diagnostics.Stopwatch.StartNew();
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (since.Elapsed < quiet || !AllStable(last))
        {
            Assert.True(deadline.Elapsed < Slow, "the workload kept changing: " + string.Join(", ", last.Select(i => $"{i.Name}@{i.ResourceVersion}")));
            await Task.Delay(500);
            var now = await SnapshotAsync(api);
            if (!now.Select(i => (i.Path, i.Name, i.ResourceVersion)).SequenceEqual(last.Select(i => (i.Path, i.Name, i.ResourceVersion))))
            {
                last = now;
                since.Restart();
            }
        }
        return last;
    }

    private static bool AllStable(List<Item> items) => items
        .Where(i => i.Path.EndsWith("/replicasets", StringComparison.Ordinal))
        .Select(i => JsonNode.Parse(i.Json)!)
        .Where(rs => (int?)rs["spec"]?["replicas"] > 0)
        .All(rs => (string?)rs["metadata"]?["annotations"]?[WellKnown.StableAnnotation] == "true");

    /// <summary>Every object of the kinds a workload is made of, in both namespaces.</summary>
    private static async Task<List<Item>> SnapshotAsync(ApiClient api)
    {
        List<string> paths = ["/api/v1/namespaces"];
        foreach (var ns in new[] { "default", Ns })
        {
            paths.AddRange(
            [
                $"/apis/apps/v1/namespaces/{ns}/deployments",
                $"/apis/apps/v1/namespaces/{ns}/replicasets",
                $"/api/v1/namespaces/{ns}/pods",
                $"/api/v1/namespaces/{ns}/services",
                $"/api/v1/namespaces/{ns}/endpoints",
            ]);
        }
        var items = new List<Item>();
        foreach (var path in paths)
        {
            foreach (var o in await ListEventuallyAsync<JsonObject>(api, path))
            {
                var m = o["metadata"]!;
                items.Add(new Item(path, (string)m["name"]!, (string)m["uid"]!, (string)m["resourceVersion"]!, o.ToJsonString()));
            }
        }
        return items;
    }

    /// <summary>Each object of <paramref name="before"/> is still there, the same object (uid), at
    /// the same resourceVersion: nothing was lost, rolled back or rewritten by the failover.</summary>
    private static void AssertKept(List<Item> before, List<Item> now, string through)
    {
        var problems = new List<string>();
        foreach (var item in before)
        {
            var found = now.SingleOrDefault(n => n.Path == item.Path && n.Name == item.Name);
            if (found is null)
            {
                problems.Add($"{item.Path}/{item.Name} is gone");
            }
            else if (found.Uid != item.Uid || found.ResourceVersion != item.ResourceVersion)
            {
                problems.Add($"{item.Path}/{item.Name}: uid {item.Uid} -> {found.Uid}, resourceVersion {item.ResourceVersion} -> {found.ResourceVersion}\n  before: {item.Json}\n  after:  {found.Json}");
            }
        }
        Assert.True(problems.Count == 0, $"read through {through}:\n" + string.Join('\n', problems));
    }

    /// <summary>Both nodes are Ready; every pod is Running on one of them, in a running containerd
    /// task of that node (one container per pod here), and answers HTTP there.</summary>
    private static async Task AssertPodsRunAsync(ComposeCluster cluster, ApiClient api)
    {
        var nodes = await api.ListAsync<Node>("/api/v1/nodes");
        Assert.Equal(["node-1", "node-2"], nodes.Where(n => n.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == ConditionStatus.True) == true).Select(n => n.Metadata.Name).Order());
        await Eventually.True(async () => (await api.ListAsync<Pod>("/api/v1/pods")).All(p => p.Status?.Phase == PodPhase.Running), "every pod to be Running", Slow);
        var pods = await api.ListAsync<Pod>("/api/v1/pods");
        Assert.Equal(2 + 2 + 3, pods.Count);
        foreach (var group in pods.GroupBy(p => p.Spec.NodeName))
        {
            var node = group.Key ?? throw new InvalidOperationException($"pod {group.First().Metadata.Name} is not bound");
            var service = node switch
            {
                "node-1" => "agent1",
                "node-2" => "agent2",
                _ => throw new InvalidOperationException($"pod {group.First().Metadata.Name} is on an unknown node {node}"),
            };
            var tasks = await cluster.ExecAsync(service, "ctr", "--namespace", node, "tasks", "list");
            var running = tasks.Split('\n').Count(l => l.Contains("RUNNING", StringComparison.Ordinal));
            Assert.True(running == group.Count(), $"{node} has {group.Count()} pods and {running} running containers:\n{tasks}");
            foreach (var pod in group)
            {
                var answer = await cluster.ExecAsync(service, "timeout", "5", "bash", "-c",
                    $"exec 3<>/dev/tcp/{pod.Status!.PodIP}/8080 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && tail -n 1 <&3");
                Assert.True(answer.StartsWith("hello from", StringComparison.Ordinal), $"pod {pod.Metadata.Name} on {node} answered \"{answer}\"");
            }
        }
    }

    /// <summary>compose-down.sh left nothing: no iptables rule or chain, no bridge, no process, no
    /// cgroup, no directory of the cluster's.</summary>
    private static async Task AssertHostCleanAsync(ComposeCluster cluster, HostSnapshot before)
    {
        var after = await HostSnapshot.TakeAsync();
        var iptables = HostSnapshot.Differences(before.Iptables, after.Iptables);
        Assert.True(iptables.Count == 0, "iptables-save differs from before the test:\n" + string.Join('\n', iptables));
        var ip6tables = HostSnapshot.Differences(before.Ip6tables, after.Ip6tables);
        Assert.True(ip6tables.Count == 0, "ip6tables-save differs from before the test:\n" + string.Join('\n', ip6tables));
        var link = await Containerd.HostCommand.RunAsync("ip", ["link", "show", cluster.Bridge]);
        Assert.True(link.ExitCode != 0, $"the cluster's bridge {cluster.Bridge} is still there");
        foreach (var (key, name) in new[] { ("ORCH_OWN_DOCKERD_PID", "dockerd"), ("ORCH_OWN_CONTAINERD_PID", "containerd") })
        {
            var pid = cluster.Recorded[key];
            Assert.False(ReadComm($"/proc/{pid}") == name, $"{name} (pid {pid}) is still running");
        }
        var cgroups = Directory.EnumerateDirectories("/sys/fs/cgroup").Select(h => Path.Combine(h, $"orch-compose-{cluster.Project}")).Where(Directory.Exists).ToList();
        Assert.True(cgroups.Count == 0, "cgroups left: " + string.Join(", ", cgroups));
        Assert.False(Directory.Exists(cluster.Directory), $"{cluster.Directory} is still there");
        if (!before.RunDocker)
        {
            Assert.False(Directory.Exists("/run/docker") && !OtherDockerdRuns(), "/run/docker was left behind");
        }
    }

    private static bool OtherDockerdRuns() =>
        Directory.EnumerateDirectories("/proc").Any(d => int.TryParse(Path.GetFileName(d), out _) && ReadComm(d) == "dockerd");

    private static string? ReadComm(string procDirectory)
    {
        try
        {
            return File.ReadAllText(Path.Combine(procDirectory, "comm")).Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }
}

/// <summary>
/// The compose test: not run in parallel with other collections, because three silos, two nodes,
/// Redis, PostgreSQL and dockerd on a two-core machine leave no room for other tests' timing.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ComposeCollection
{
    public const string Name = "compose";
}
