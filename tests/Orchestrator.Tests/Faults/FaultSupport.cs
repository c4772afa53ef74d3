using System.Globalization;
using System.Net;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.MultiNode;
using Xunit.Abstractions;

namespace Orchestrator.Tests.Faults;

/// <summary>
/// What the fault-injection tests share: workloads, waits that show the agents' logs when they
/// time out, and the end-of-test check that the cluster converged: every workload at its
/// desired count of Running pods, and on the nodes exactly one running container per container
/// of an active pod, on that pod's node, and none for anything else (a pod evicted, failed or
/// deleted, or one running in two places).
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed partial class FaultSupport(MultiNodeCluster cluster, Func<ApiClient> api, ITestOutputHelper output)
{
    private readonly Phases _phases = new(output);

    public ApiClient Api => api();

    public MultiNodeCluster Cluster => cluster;

    /// <summary>Writes a timestamped step to the test output (how long each phase took).</summary>
    public void Phase(string what) => _phases.Log(what);

    /// <summary>busybox that ends at once and cleanly on SIGTERM (sh as PID 1 ignores signals it
    /// has no trap for), appending a line to /marks/terminated first when a hostPath is given.</summary>
    public static Container Sleeper(bool marks = false) => new()
    {
        Name = "main",
        Image = ContainerdFixture.Image,
        Command = ["sh", "-c", marks
            ? "trap 'echo \"$(hostname) graceful\" >> /marks/terminated; exit 0' TERM; sleep 3600 & wait"
            : "trap 'exit 0' TERM; sleep 3600 & wait"],
        VolumeMounts = marks ? [new VolumeMount { Name = "marks", MountPath = "/marks" }] : null,
    };

    public static Deployment Sleepers(string name, int replicas, long grace = 1, string? marksDirectory = null) => Manifests.Deployment(name, replicas, new PodSpec
    {
        Containers = [Sleeper(marksDirectory is not null)],
        TerminationGracePeriodSeconds = grace,
        Volumes = marksDirectory is null ? null : [new Volume { Name = "marks", HostPath = new HostPathVolumeSource { Path = marksDirectory } }],
    });

    /// <summary>A pod without a controller, pinned to <paramref name="node"/>.</summary>
    public static Pod BarePod(string name, ClusterNode node) => new()
    {
        Metadata = new ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["bare"] = "true" } },
        Spec = ContainerdFixture.OnNode(new PodSpec { Containers = [Sleeper()], TerminationGracePeriodSeconds = 1 }, node.Name),
    };

    public async Task<List<Pod>> PodsAsync(string ns, string? selector = null) =>
        await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods{(selector is null ? "" : "?labelSelector=" + Uri.EscapeDataString(selector))}");

    public static bool IsRunning(Pod p) => p.IsActive() && p.Status?.Phase == PodPhase.Running && p.IsReady();

    /// <summary>Waits until the deployment has exactly <paramref name="replicas"/> active pods, all
    /// Running and Ready, with <paramref name="where"/> true of each; returns them.</summary>
    public async Task<List<Pod>> WaitDeploymentRunningAsync(string ns, string name, int replicas, Func<Pod, bool>? where = null, int seconds = 60)
    {
        List<Pod> active = [];
        await WaitAsync(async () =>
        {
            active = [.. (await PodsAsync(ns, $"app={name}")).Where(p => p.IsActive())];
            return active.Count == replicas && active.All(p => IsRunning(p) && (where?.Invoke(p) ?? true));
        }, $"{replicas} running pods of {ns}/{name}", seconds, () => Describe(active));
        return active;
    }

    public async Task<Pod> WaitPodAsync(string ns, string name, Func<Pod, bool> condition, string what, int seconds = 60)
    {
        Pod? last = null;
        await WaitAsync(async () => (last = await Api.TryGetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/{name}")) is { } p && condition(p),
            $"pod {ns}/{name}: {what}", seconds, () => last is null ? "no such pod" : Describe([last]));
        return last!;
    }

    public async Task<Node> WaitNodeAsync(ClusterNode node, Func<Node, bool> condition, string what, int seconds = 60)
    {
        Node? last = null;
        await WaitAsync(async () => (last = await Api.TryGetAsync<Node>($"/api/v1/nodes/{node.Name}")) is { } n && condition(n),
            $"node {node}: {what}", seconds, () => last is null ? "no such node" : ResourceJson.SerializeToString(new { last.Spec.Taints, last.Status?.Conditions }));
        return last!;
    }

    /// <summary>Waits until the node's (current) agent process says it registered the node.</summary>
    public Task WaitAgentRegisteredAsync(ClusterNode node, int seconds = 60) =>
        WaitAsync(() => Task.FromResult(node.Agent?.Output.Contains($"Node {node.Name} registered", StringComparison.Ordinal) == true),
            $"the agent of {node} to register", seconds);

    public static bool Unreachable(Node n) =>
        n.ReadyCondition()?.Status == ConditionStatus.Unknown && n.Spec.Taints?.Any(t => t.Key == NodeTaints.Unreachable && t.Effect == TaintEffect.NoExecute) == true;

    public static bool ReadyWithoutTaints(Node n) =>
        n.IsReady() && !(n.Spec.Taints ?? []).Any(t => t.Key is NodeTaints.Unreachable or NodeTaints.NotReady);

    public async Task WaitAsync(Func<Task<bool>> condition, string what, int seconds = 60, Func<string>? detail = null)
    {
        try
        {
            await Eventually.True(condition, what, TimeSpan.FromSeconds(seconds));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\n{detail?.Invoke()}\n{Cluster.Describe(40)}", ex);
        }
    }

    public async Task DeleteNamespaceAsync(string ns)
    {
        await Eventually.True(async () => (await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}")).StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted or HttpStatusCode.NotFound,
            $"namespace {ns} deletion accepted", TimeSpan.FromSeconds(60));
        await WaitAsync(async () => (await Api.Http.GetAsync($"/api/v1/namespaces/{ns}")).StatusCode == HttpStatusCode.NotFound, $"namespace {ns} deleted", 90);
    }

    // ------------------------------------------------------------------ containers on the nodes

    /// <summary>A running container on a node: its id, the pod uid and container name its id
    /// encodes ("{name}-{uid without dashes}-{attempt}", see ContainerLabels.ContainerId).</summary>
    public sealed record RunningContainer(ClusterNode Node, string Id, string PodUid, string Name);

    /// <summary>Every running container (task) on every node, from containerd itself.</summary>
    public async Task<List<RunningContainer>> RunningContainersAsync()
    {
        var all = new List<RunningContainer>();
        foreach (var node in Cluster.Nodes)
        {
            var text = await Cluster.Containerd.CtrAsync(node.Options.ContainerdNamespace, "tasks", "list");
            foreach (var line in text.Split('\n').Skip(1))
            {
                var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length >= 3 && fields[2] == "RUNNING" && ContainerIdPattern().Match(fields[0]) is { Success: true } m)
                {
                    all.Add(new RunningContainer(node, fields[0], m.Groups[2].Value, m.Groups[1].Value));
                }
            }
        }
        return all;
    }

    public static string CompactUid(string uid) => uid.Replace("-", "", StringComparison.Ordinal);

    [GeneratedRegex("^(.+)-([0-9a-f]{32})-([0-9]+)$")]
    private static partial Regex ContainerIdPattern();

    /// <summary>
    /// What is wrong with the containers on the nodes, given every pod of the cluster: a running
    /// container of a pod that is not active (deleted, evicted, failed, finished) or that runs on
    /// another node than the pod's, or more than one running container for one container of a
    /// pod. Empty when every pod runs at most once, where it is bound.
    /// </summary>
    public async Task<List<string>> ContainerProblemsAsync()
    {
        var pods = (await Api.ListAsync<Pod>("/api/v1/pods")).ToDictionary(p => CompactUid(p.Metadata.Uid!));
        var running = await RunningContainersAsync();
        var problems = new List<string>();
        foreach (var c in running)
        {
            if (!pods.TryGetValue(c.PodUid, out var pod))
            {
                problems.Add($"{c.Id} runs on {c.Node} for a pod that no longer exists");
            }
            else if (!pod.IsActive())
            {
                problems.Add($"{c.Id} runs on {c.Node} for {pod.NamespacedName()}, which is {(pod.Metadata.DeletionTimestamp is null ? pod.Status?.Phase : "being deleted")}");
            }
            else if (pod.Spec.NodeName != c.Node.Name)
            {
                problems.Add($"{c.Id} runs on {c.Node} for {pod.NamespacedName()}, which is bound to {pod.Spec.NodeName}");
            }
        }
        foreach (var twice in running.GroupBy(c => (c.PodUid, c.Name)).Where(g => g.Count() > 1))
        {
            problems.Add($"container {twice.Key.Name} of pod {(pods.TryGetValue(twice.Key.PodUid, out var p) ? p.NamespacedName() : twice.Key.PodUid)} runs {twice.Count()} times: {string.Join(", ", twice.Select(c => $"{c.Id} on {c.Node}"))}");
        }
        return problems;
    }

    /// <summary>Waits until <see cref="ContainerProblemsAsync"/> finds nothing and every active pod
    /// has its one container running.</summary>
    public async Task WaitContainersConvergedAsync(int seconds = 60)
    {
        List<string> problems = [];
        await WaitAsync(async () =>
        {
            problems = await ContainerProblemsAsync();
            var running = (await RunningContainersAsync()).Select(c => c.PodUid).ToHashSet();
            var active = (await Api.ListAsync<Pod>("/api/v1/pods")).Where(p => p.IsActive() && p.Spec.NodeName is not null).ToList();
            problems.AddRange(active.Where(p => !running.Contains(CompactUid(p.Metadata.Uid!))).Select(p => $"{p.NamespacedName()} has no running container"));
            return problems.Count == 0;
        }, "every active pod running exactly once, where it is bound, and nothing else running", seconds, () => string.Join('\n', problems));
    }

    /// <summary>The deployment's own accounting agrees with what runs: its replica set counts
    /// exactly the active pods (none counted twice, none that is terminating).</summary>
    public async Task AssertCountedOnceAsync(string ns, string name, int replicas)
    {
        await WaitAsync(async () =>
        {
            var d = await Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/{name}");
            var sets = (await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets")).Where(r => r.Metadata.ControllerRef?.Uid == d.Metadata.Uid).ToList();
            return d.Status?.Replicas == replicas && d.Status.AvailableReplicas == replicas && d.Status.ReadyReplicas == replicas
                && sets.Sum(r => r.Status?.Replicas ?? 0) == replicas && sets.Sum(r => r.Status?.ReadyReplicas ?? 0) == replicas;
        }, $"{ns}/{name} and its replica set to count {replicas} replicas", 30);
        var active = (await PodsAsync(ns, $"app={name}")).Where(p => p.IsActive()).ToList();
        Assert.Equal(replicas, active.Count);
        Assert.Equal(replicas, active.Select(p => p.Metadata.Uid).Distinct().Count());
    }

    public static string Describe(IEnumerable<Pod> pods) => string.Join('\n', pods.Select(p =>
        $"{p.Metadata.Name} on {p.Spec.NodeName}: {(p.Metadata.DeletionTimestamp is null ? "" : "terminating, ")}{ResourceJson.SerializeToString(new { p.Status?.Phase, p.Status?.Reason, Ready = p.IsReady() })}"));

    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
}
