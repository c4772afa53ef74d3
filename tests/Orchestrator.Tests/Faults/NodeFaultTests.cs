using System.Diagnostics;
using System.Net;
using System.Runtime.Versioning;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.MultiNode;
using Xunit.Abstractions;

namespace Orchestrator.Tests.Faults;

/// <summary>
/// The fault-injection tests of the node side: three nodes of real containers (the multi-node
/// harness) on an in-process control plane with a 3 s node lease and the default 5 s
/// toleration. Not run in parallel with other collections: a node lease is a timing contract,
/// and on two cores another collection's burst must not look like a lost node.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NodeFaultsCollection : ICollectionFixture<MultiNodeFixture>
{
    public const string Name = "faults: nodes";
}

/// <summary>
/// Kill an agent, stop a node, cut a node's network, restart containerd, drain a node: after
/// each, every workload has its desired pods Running, no pod runs twice, and nothing needed a
/// hand to get there.
/// </summary>
[Collection(NodeFaultsCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class NodeFaultTests(MultiNodeFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly List<string> _namespaces = [];
    private readonly FaultSupport _f = new(fixture.Cluster, () => fixture.Api, output);

    private MultiNodeCluster Cluster => fixture.Cluster;

    private ApiClient Api => fixture.Api;

    public async Task InitializeAsync() => await RestoreNodesAsync();

    public async Task DisposeAsync()
    {
        // Whatever the test did to the nodes is undone first: the agents finish the deletions.
        await RestoreNodesAsync();
        foreach (var ns in _namespaces)
        {
            await _f.DeleteNamespaceAsync(ns);
        }
    }

    /// <summary>Every node connected, with a running agent, schedulable, Ready.</summary>
    private async Task RestoreNodesAsync()
    {
        foreach (var node in Cluster.Nodes)
        {
            await Cluster.HealNetworkAsync(node);
            if (node.Agent is null or { HasExited: true })
            {
                Cluster.StartAgent(node);
            }
            if ((await Api.TryGetAsync<Node>($"/api/v1/nodes/{node.Name}"))?.Spec.Unschedulable == true)
            {
                await Api.SendAsync(HttpMethod.Patch, $"/api/v1/nodes/{node.Name}", """{"spec":{"unschedulable":false}}""", "application/merge-patch+json");
            }
        }
        foreach (var node in Cluster.Nodes)
        {
            await _f.WaitNodeAsync(node, FaultSupport.ReadyWithoutTaints, "Ready without taints", 90);
        }
    }

    /// <summary>A namespace of the test's own; <paramref name="privileged"/> for pods with a
    /// hostPath volume, which the default Pod Security level (baseline) refuses.</summary>
    private async Task<string> NewNamespaceAsync(bool privileged = false)
    {
        var ns = await fixture.ControlPlane.NewNamespaceAsync("fault",
            privileged ? new Dictionary<string, string> { [PodSecurityLabels.Enforce] = PodSecurityLabels.Privileged } : null);
        _namespaces.Add(ns);
        return ns;
    }

    [Fact]
    public async Task AKilledAgentLeavesItsContainersRunningAndReadoptsThemWithoutDuplicates()
    {
        var ns = await NewNamespaceAsync();
        var victim = Cluster.Nodes[0];
        // Pods that tolerate an unreachable node for a minute: however slowly the agent comes
        // back on a loaded machine, nothing is evicted, so what runs afterwards must be what ran.
        var web = FaultSupport.Sleepers("web", 3);
        web = web with { Spec = web.Spec with { Template = web.Spec.Template with { Spec = Patient(web.Spec.Template.Spec) } } };
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", web);
        var bare = FaultSupport.BarePod("bare", victim);
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", bare with { Spec = Patient(bare.Spec) });
        var pods = await _f.WaitDeploymentRunningAsync(ns, "web", 3);
        await _f.WaitPodAsync(ns, "bare", FaultSupport.IsRunning, "Running");
        var before = (await _f.RunningContainersAsync()).Where(c => c.Node == victim).Select(c => c.Id).Order().ToList();
        _f.Phase($"running; {victim} runs {before.Count} containers");

        await Cluster.KillAgentAsync(victim);
        _f.Phase($"kill -9 of the agent of {victim}");
        // Its containers keep running without it.
        Assert.Equal(before, (await _f.RunningContainersAsync()).Where(c => c.Node == victim).Select(c => c.Id).Order().ToList());
        // A deletion while it is down waits for it: the pod stays Terminating.
        await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/pods/bare");
        Assert.NotNull((await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/bare")).Metadata.DeletionTimestamp);

        Cluster.StartAgent(victim);
        await _f.WaitAgentRegisteredAsync(victim);
        await _f.WaitNodeAsync(victim, FaultSupport.ReadyWithoutTaints, "Ready again");
        _f.Phase("the agent is back and the node Ready");
        // The new agent finishes the deletion (it adopted the container it never started) and
        // runs new pods.
        await _f.WaitAsync(async () => (await Api.Http.GetAsync($"/api/v1/namespaces/{ns}/pods/bare")).StatusCode == HttpStatusCode.NotFound, "the deleted pod finished");
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", FaultSupport.BarePod("after", victim));
        await _f.WaitPodAsync(ns, "after", FaultSupport.IsRunning, "Running");

        // The deployment's pods were adopted, not restarted: same containers, no restarts.
        var now = await _f.WaitDeploymentRunningAsync(ns, "web", 3);
        Assert.Equal(pods.Select(p => (p.Metadata.Uid, ContainerId(p))).Order(), now.Select(p => (p.Metadata.Uid, ContainerId(p))).Order());
        Assert.All(now, p => Assert.Equal(0, p.Status!.ContainerStatuses![0].RestartCount));
        await _f.WaitContainersConvergedAsync();
        await _f.AssertCountedOnceAsync(ns, "web", 3);
        _f.Phase("converged: same containers, nothing twice");
    }

    [Fact]
    public async Task AStoppedNodesPodsAreReplacedOnHealthyNodesAndItsBarePodsFail()
    {
        var ns = await NewNamespaceAsync();
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", FaultSupport.Sleepers("web", 3));
        var pods = await _f.WaitDeploymentRunningAsync(ns, "web", 3);
        var victim = Cluster.NodeNamed(pods[0].Spec.NodeName!);
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", FaultSupport.BarePod("bare", victim));
        await _f.WaitPodAsync(ns, "bare", FaultSupport.IsRunning, "Running");
        var lost = pods.Where(p => p.Spec.NodeName == victim.Name).Select(p => p.Metadata.Uid).ToHashSet();
        _f.Phase($"running; {victim} has {lost.Count} replica(s) and the bare pod");

        var stopped = Stopwatch.StartNew();
        await Cluster.StopNodeAsync(victim);
        _f.Phase($"{victim} stopped (agent and containers killed, cable pulled)");
        await _f.WaitNodeAsync(victim, FaultSupport.Unreachable, "unreachable (Ready=Unknown, NoExecute taint)", 30);
        _f.Phase($"{victim} declared unreachable after {FaultSupport.Seconds(stopped.Elapsed)}");
        var replaced = await _f.WaitDeploymentRunningAsync(ns, "web", 3, p => p.Spec.NodeName != victim.Name);
        _f.Phase($"its replicas replaced on healthy nodes, all Running, {FaultSupport.Seconds(stopped.Elapsed)} after the stop");
        Assert.DoesNotContain(replaced, p => lost.Contains(p.Metadata.Uid));
        var failed = await _f.WaitPodAsync(ns, "bare", p => p.Status is { Phase: PodPhase.Failed, Reason: "NodeLost" }, "Failed with reason NodeLost", 30);
        // The evicted replicas wait, Terminating, for their node: nobody can confirm they stopped.
        var evicted = (await _f.PodsAsync(ns, "app=web")).Where(p => lost.Contains(p.Metadata.Uid)).ToList();
        Assert.Equal(lost.Count, evicted.Count);
        Assert.All(evicted, p => Assert.NotNull(p.Metadata.DeletionTimestamp));
        await _f.AssertCountedOnceAsync(ns, "web", 3);

        await Cluster.StartNodeAsync(victim);
        await _f.WaitAgentRegisteredAsync(victim);
        _f.Phase($"{victim} started again");
        await _f.WaitNodeAsync(victim, FaultSupport.ReadyWithoutTaints, "Ready without taints");
        await _f.WaitAsync(async () => !(await _f.PodsAsync(ns, "app=web")).Any(p => lost.Contains(p.Metadata.Uid)), "the evicted replicas finished by the returning agent");
        _f.Phase("the returning agent finished the evicted replicas");
        // The failed pod stays failed: the returning agent may not bring it back.
        var bare = await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/bare");
        Assert.Equal((PodPhase.Failed, "NodeLost"), (bare.Status!.Phase, bare.Status.Reason));
        Assert.Equal(failed.Metadata.ResourceVersion, bare.Metadata.ResourceVersion);
        await _f.WaitContainersConvergedAsync();
        await _f.AssertCountedOnceAsync(ns, "web", 3);
        Assert.Equal(replaced.Select(p => p.Metadata.Uid).Order(), (await _f.PodsAsync(ns, "app=web")).Select(p => p.Metadata.Uid).Order());
        _f.Phase("converged");
    }

    [Fact]
    public async Task ACutOffNodeIsDeclaredLostAndFencesItsEvictedPodsBeforeItTurnsReadyAgain()
    {
        var ns = await NewNamespaceAsync();
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", FaultSupport.Sleepers("web", 3));
        var pods = await _f.WaitDeploymentRunningAsync(ns, "web", 3);
        var victim = Cluster.NodeNamed(pods[^1].Spec.NodeName!);
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", FaultSupport.BarePod("bare", victim));
        await _f.WaitPodAsync(ns, "bare", FaultSupport.IsRunning, "Running");
        var lost = pods.Where(p => p.Spec.NodeName == victim.Name).Select(p => p.Metadata.Uid!).ToHashSet();
        _f.Phase($"running; {victim} has {lost.Count} replica(s) and the bare pod");

        var cut = Stopwatch.StartNew();
        await Cluster.CutNetworkAsync(victim);
        _f.Phase($"{victim}'s cable pulled");
        await _f.WaitNodeAsync(victim, FaultSupport.Unreachable, "unreachable", 30);
        await _f.WaitDeploymentRunningAsync(ns, "web", 3, p => p.Spec.NodeName != victim.Name);
        var failed = await _f.WaitPodAsync(ns, "bare", p => p.Status is { Phase: PodPhase.Failed, Reason: "NodeLost" }, "Failed with reason NodeLost", 30);
        _f.Phase($"declared lost, replicas replaced elsewhere and Running, bare pod Failed ({FaultSupport.Seconds(cut.Elapsed)} after the cut)");

        // Cut off, the node's agent kept its pods running: they now run twice.
        var fenced = (await _f.PodsAsync(ns)).Where(p => lost.Contains(p.Metadata.Uid!) || p.Metadata.Name == "bare").ToDictionary(p => p.Metadata.Uid!);
        Assert.All(fenced.Values.Where(p => p.Metadata.Name != "bare"), p => Assert.NotNull(p.Metadata.DeletionTimestamp));
        var stale = (await _f.RunningContainersAsync()).Where(c => c.Node == victim && fenced.Keys.Select(FaultSupport.CompactUid).Contains(c.PodUid)).ToList();
        Assert.Equal(fenced.Count, stale.Count);

        // From here on, no change to these pods may carry a status other than the one the control
        // plane gave them: the returning agent must not report what it saw before the cut.
        var statusAtCut = fenced.ToDictionary(kv => kv.Key, kv => ResourceJson.SerializeToString(kv.Value.Status));
        await using var observer = await PodObserver.StartAsync(Api, ns, (seen, _) =>
        {
            var changed = seen.Where(p => statusAtCut.TryGetValue(p.Metadata.Uid!, out var before) && ResourceJson.SerializeToString(p.Status) != before).ToList();
            return changed.Count == 0 ? null : $"status of {string.Join(", ", changed.Select(p => p.Metadata.Name))} changed after the cut: {FaultSupport.Describe(changed)}";
        });

        await Cluster.HealNetworkAsync(victim);
        _f.Phase($"{victim}'s cable back");
        // The node may turn Ready only once the evicted and failed pods' containers have stopped:
        // each look reads the node first, then the containers.
        var readyWhileRunning = new List<string>();
        await _f.WaitAsync(async () =>
        {
            var node = await Api.GetAsync<Node>($"/api/v1/nodes/{victim.Name}");
            var running = (await _f.RunningContainersAsync()).Where(c => c.Node == victim && stale.Any(s => s.Id == c.Id)).ToList();
            if (node.IsReady() && running.Count > 0)
            {
                readyWhileRunning.Add(string.Join(", ", running.Select(c => c.Id)));
            }
            return node.IsReady() && running.Count == 0;
        }, "the node Ready again and the fenced containers stopped");
        _f.Phase($"fenced and Ready again {FaultSupport.Seconds(cut.Elapsed)} after the cut");
        foreach (var line in victim.Agent!.Output.Split('\n').Where(l => l.Contains("Fenced", StringComparison.Ordinal) || l.Contains("back in contact", StringComparison.Ordinal)))
        {
            output.WriteLine($"         agent: {line.Trim()}");
        }
        Assert.True(readyWhileRunning.Count == 0, $"{victim} was Ready while fenced containers still ran: {string.Join("; ", readyWhileRunning)}\n{Cluster.Describe(60)}");

        await _f.WaitNodeAsync(victim, FaultSupport.ReadyWithoutTaints, "without taints");
        await _f.WaitAsync(async () => !(await _f.PodsAsync(ns)).Any(p => lost.Contains(p.Metadata.Uid!)), "the evicted replicas finished");
        var bare = await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/bare");
        Assert.Equal(failed.Metadata.ResourceVersion, bare.Metadata.ResourceVersion);
        await _f.WaitContainersConvergedAsync();
        await _f.AssertCountedOnceAsync(ns, "web", 3);
        Assert.Empty(observer.Violations);
        _f.Phase($"converged; {observer.Events} pod changes seen after the cut, none of them stale");
    }

    [Fact]
    public async Task RestartingContainerdUnderRunningAgentsKeepsEveryContainerAndCatchesUp()
    {
        var ns = await NewNamespaceAsync();
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", FaultSupport.Sleepers("web", 3));
        var pods = await _f.WaitDeploymentRunningAsync(ns, "web", 3);
        var doomed = pods[0];
        var kept = pods.Skip(1).Select(p => (p.Metadata.Uid, ContainerId(p))).Order().ToList();

        var logged = Cluster.Nodes.ToDictionary(n => n, n => n.Agent!.Output.Length);
        await Cluster.Containerd.StopDaemonAsync();
        _f.Phase("containerd stopped");
        try
        {
            // Down long enough for every agent to find out.
            await _f.WaitAsync(() => Task.FromResult(Cluster.Nodes.All(n => n.Agent!.Output[logged[n]..].Contains("Listing containers failed", StringComparison.Ordinal))),
                "every agent to fail to list its containers");
            // Work for the agents while containerd is down: a pod to stop and a pod to start.
            await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/pods/{doomed.Metadata.Name}");
            using var scale = await Api.SendAsync(HttpMethod.Patch, $"/apis/apps/v1/namespaces/{ns}/deployments/web/scale", """{"spec":{"replicas":4}}""", "application/merge-patch+json");
            Assert.Equal(HttpStatusCode.OK, scale.StatusCode);
            await _f.WaitAsync(async () => (await _f.PodsAsync(ns, "app=web")).Count(p => p.IsActive() && p.Spec.NodeName is not null) == 4,
                "the replacements bound to nodes whose containerd is down");
        }
        finally
        {
            await Cluster.Containerd.StartDaemonAsync(TimeSpan.FromSeconds(30));
        }
        _f.Phase("containerd started again");

        var now = await _f.WaitDeploymentRunningAsync(ns, "web", 4);
        Assert.Equal(kept, now.Where(p => kept.Any(k => k.Uid == p.Metadata.Uid)).Select(p => (p.Metadata.Uid, ContainerId(p))).Order().ToList());
        Assert.All(now, p => Assert.Equal(0, p.Status!.ContainerStatuses![0].RestartCount));
        await _f.WaitAsync(async () => (await Api.Http.GetAsync($"/api/v1/namespaces/{ns}/pods/{doomed.Metadata.Name}")).StatusCode == HttpStatusCode.NotFound, "the deleted pod finished");
        await _f.WaitContainersConvergedAsync();
        await _f.AssertCountedOnceAsync(ns, "web", 4);
        _f.Phase("converged: the running containers kept, the new ones started, the deleted one gone");
    }

    [Fact]
    public async Task CordonAndEvictionDrainANodeWithGracefulTermination()
    {
        var ns = await NewNamespaceAsync(privileged: true);
        var marks = Path.Combine(Path.GetTempPath(), $"orch-faults-{Guid.NewGuid():N}");
        Directory.CreateDirectory(marks);
        try
        {
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", FaultSupport.Sleepers("web", 3, grace: 20, marksDirectory: marks));
            var pods = await _f.WaitDeploymentRunningAsync(ns, "web", 3);
            var victim = Cluster.NodeNamed(pods[0].Spec.NodeName!);
            var drained = pods.Where(p => p.Spec.NodeName == victim.Name).ToList();

            // kubectl drain: cordon, then evict every pod of the node.
            using var cordon = await Api.SendAsync(HttpMethod.Patch, $"/api/v1/nodes/{victim.Name}", """{"spec":{"unschedulable":true}}""", "application/merge-patch+json");
            Assert.Equal(HttpStatusCode.OK, cordon.StatusCode);
            foreach (var p in drained)
            {
                using var response = await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods/{p.Metadata.Name}/eviction",
                    $$$"""{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"{{{p.Metadata.Name}}}","namespace":"{{{ns}}}"}}""");
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            }
            _f.Phase($"{victim} cordoned, {drained.Count} pod(s) evicted");

            var moved = await _f.WaitDeploymentRunningAsync(ns, "web", 3, p => p.Spec.NodeName != victim.Name);
            await _f.WaitAsync(async () => !(await _f.PodsAsync(ns)).Any(p => drained.Any(d => d.Metadata.Uid == p.Metadata.Uid)), "the evicted pods finished");
            _f.Phase("the evicted pods terminated and were replaced on the other nodes");
            // Each evicted pod got SIGTERM and ended by itself, well inside its 20 s grace: its
            // trap wrote its line (a SIGKILL leaves none).
            var lines = File.Exists(Path.Combine(marks, "terminated")) ? File.ReadAllLines(Path.Combine(marks, "terminated")) : [];
            Assert.Equal(drained.Count, lines.Length);
            Assert.All(lines, l => Assert.EndsWith(" graceful", l, StringComparison.Ordinal));
            Assert.DoesNotContain(moved, p => p.Spec.NodeName == victim.Name);
            await _f.WaitContainersConvergedAsync();
            await _f.AssertCountedOnceAsync(ns, "web", 3);

            // Uncordoned, the node takes pods again.
            await Api.SendAsync(HttpMethod.Patch, $"/api/v1/nodes/{victim.Name}", """{"spec":{"unschedulable":false}}""", "application/merge-patch+json");
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", FaultSupport.BarePod("back", victim));
            await _f.WaitPodAsync(ns, "back", FaultSupport.IsRunning, "Running on the uncordoned node");
        }
        finally
        {
            await DisposeAsync();
            _namespaces.Clear();
            Directory.Delete(marks, recursive: true);
        }
    }

    private static string ContainerId(Pod p) => p.Status!.ContainerStatuses![0].ContainerID!;

    private static PodSpec Patient(PodSpec spec) => spec with
    {
        Tolerations =
        [
            new Toleration { Key = NodeTaints.Unreachable, Operator = "Exists", Effect = TaintEffect.NoExecute, TolerationSeconds = 60 },
            new Toleration { Key = NodeTaints.NotReady, Operator = "Exists", Effect = TaintEffect.NoExecute, TolerationSeconds = 60 },
        ],
    };
}
