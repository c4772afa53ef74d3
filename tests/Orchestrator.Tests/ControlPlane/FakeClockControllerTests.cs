using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains;
using Orchestrator.Grains.Events;
using Orchestrator.Grains.Index;
using Orchestrator.Model;
using Orchestrator.NodeProtocol;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>
/// What controllers decide by the clock, on a fake one (<see cref="FakeClockFixture"/>): the
/// node lifecycle controller (lease, unreachable taint, eviction when a toleration runs out),
/// the deployment controller's progress deadline, and the event TTL. Each decision is checked
/// against the exact instant of the fake clock at which it was due, so a controller that decided
/// early or late fails; no test waits for time to pass.
/// </summary>
[Collection(FakeClockCollection.Name)]
public sealed class FakeClockControllerTests(FakeClockFixture fx)
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    /// <summary>Tolerated by the pods under test, not by probe pods.</summary>
    private const string ProbeTaint = "orchestrator.test/probe";

    private ApiClient Api => fx.Api;

    [Fact]
    public async Task ASilentNodeBecomesUnreachableAtItsLeaseAndItsPodsAreEvictedWhenTheirTolerationsRunOut()
    {
        var ns = await fx.ControlPlane.NewNamespaceAsync();
        var name = $"{ns}-node";
        // The agent's calls, made by the test: register, then one heartbeat, then silence. The
        // node carries a NoExecute taint of the test's own that only probe pods do not tolerate
        // (see SyncPassAsync).
        var node = fx.Grains.GetGrain<INodeLeaseGrain>(name);
        var controller = fx.Grains.GetGrain<INodeGrain>(name).AsReference<IReconciler>();
        await node.RegisterAsync(new NodeRegistration
        {
            Name = name,
            Capacity = new Dictionary<string, Quantity> { ["cpu"] = new("4"), ["memory"] = new("8Gi"), ["pods"] = new("110") },
            Allocatable = new Dictionary<string, Quantity> { ["cpu"] = new("4"), ["memory"] = new("8Gi"), ["pods"] = new("110") },
            Taints = [new Taint { Key = ProbeTaint, Effect = TaintEffect.NoExecute }],
        });
        Assert.True(await node.HeartbeatAsync("boot-1", null));
        var lastHeartbeat = fx.Clock.GetUtcNow();
        var probes = 0;
        try
        {
            // Bound to the node at creation. Pods are judged in the order of their keys: by the
            // time a later one is evicted, the pass that did it has judged the earlier ones.
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", PodOn(name, "a-forever", new Toleration { Key = NodeTaints.Unreachable, Operator = "Exists", Effect = TaintEffect.NoExecute }));
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", PodOn(name, "a-patient", new Toleration { Key = NodeTaints.Unreachable, Operator = "Exists", Effect = TaintEffect.NoExecute, TolerationSeconds = 60 }));
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", PodOn(name, "b-default"));
            var defaulted = await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/b-default");
            Assert.Contains(defaulted.Spec.Tolerations!, t => t.Key == NodeTaints.Unreachable && t.TolerationSeconds == (long)FakeClockFixture.DefaultToleration.TotalSeconds);

            // A second short of the lease the node is still Ready; a second after, it is not.
            fx.Clock.Advance(FakeClockFixture.NodeLease - Second);
            await SyncPassAsync();
            Assert.Equal(ConditionStatus.True, (await Api.GetAsync<Node>($"/api/v1/nodes/{name}")).ReadyCondition()!.Status);
            fx.Clock.Advance(2 * Second);
            await controller.PokeAsync();
            var lapsed = lastHeartbeat + FakeClockFixture.NodeLease + Second;
            var unreachable = await Eventually.Until(async () => await Api.GetAsync<Node>($"/api/v1/nodes/{name}") is { } n
                && n.Spec.Taints?.FirstOrDefault(t => t.Key == NodeTaints.Unreachable) is not null ? n : null, "the unreachable taint");
            var ready = unreachable.ReadyCondition()!;
            Assert.Equal((ConditionStatus.Unknown, "NodeStatusUnknown"), (ready.Status, ready.Reason));
            Assert.Equal(lapsed, ready.LastTransitionTime);
            var taint = Assert.Single(unreachable.Spec.Taints!, t => t.Key == NodeTaints.Unreachable);
            Assert.Equal((TaintEffect.NoExecute, lapsed), (taint.Effect, taint.TimeAdded));

            // The default toleration runs out first: not a second early; then b-default goes,
            // the a- pods stay.
            fx.Clock.Advance(FakeClockFixture.DefaultToleration - Second);
            await SyncPassAsync();
            Assert.All(await PodsAsync(ns, "a-", "b-"), p => Assert.True(p.IsActive(), $"{p.Metadata.Name} evicted early"));
            fx.Clock.Advance(2 * Second);
            await controller.PokeAsync();
            var pods = await Eventually.Until(async () => await PodsAsync(ns, "a-", "b-") is { } l && l.Single(p => p.Metadata.Name == "b-default").Status is { Phase: PodPhase.Failed } ? l : null,
                "b-default to be evicted");
            Assert.Equal("NodeLost", pods.Single(p => p.Metadata.Name == "b-default").Status!.Reason);
            Assert.All(pods.Where(p => p.Metadata.Name!.StartsWith("a-", StringComparison.Ordinal)), p => Assert.True(p.IsActive(), $"{p.Metadata.Name} evicted early"));

            // At 60 s a-patient goes, not before; a-forever tolerates the taint with no limit.
            fx.Clock.Advance(TimeSpan.FromSeconds(60) - FakeClockFixture.DefaultToleration - 2 * Second);
            await SyncPassAsync();
            Assert.True((await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/a-patient")).IsActive(), "a-patient evicted early");
            fx.Clock.Advance(2 * Second);
            await controller.PokeAsync();
            pods = await Eventually.Until(async () => await PodsAsync(ns, "a-", "b-") is { } l && l.Single(p => p.Metadata.Name == "a-patient").Status is { Phase: PodPhase.Failed } ? l : null,
                "a-patient to be evicted");
            Assert.True(pods.Single(p => p.Metadata.Name == "a-forever").IsActive());

            // Each eviction was recorded at the instant of the first pass after its toleration ran out.
            var lost = (await Api.ListAsync<Event>($"/api/v1/namespaces/{ns}/events"))
                .Where(e => e.Reason == "NodeLost" && !e.InvolvedObject.Name!.StartsWith("probe-", StringComparison.Ordinal))
                .ToDictionary(e => e.InvolvedObject.Name!, e => e.FirstTimestamp);
            Assert.Equal(new Dictionary<string, DateTimeOffset?>
            {
                ["b-default"] = lapsed + FakeClockFixture.DefaultToleration + Second,
                ["a-patient"] = lapsed + TimeSpan.FromSeconds(60) + Second,
            }, lost);

            // The agent is back: Ready again, and the unreachable taint goes.
            Assert.True(await node.HeartbeatAsync("boot-1", null));
            var back = await Eventually.Until(async () => await Api.GetAsync<Node>($"/api/v1/nodes/{name}") is { } n
                && n.Spec.Taints?.Any(t => t.Key == NodeTaints.Unreachable) != true ? n : null, "the unreachable taint to go");
            Assert.Equal(ConditionStatus.True, back.ReadyCondition()!.Status);
        }
        finally
        {
            await Api.SendAsync(HttpMethod.Delete, $"/api/v1/nodes/{name}");
        }

        // Returns once a pass of the node controller has run at the fake clock's present time:
        // a new probe pod, which tolerates nothing of the node's, is evicted by the first pass
        // that sees it, after judging the node's lease and every pod whose name sorts before it.
        async Task SyncPassAsync()
        {
            var probe = $"probe-{++probes}";
            var p = Manifests.Pod(probe);
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", p with { Spec = p.Spec with { NodeName = name } });
            await Eventually.True(async () =>
            {
                await controller.PokeAsync();
                return (await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/{probe}")).Status?.Phase == PodPhase.Failed;
            }, $"a pass of the node controller to evict {probe}");
        }
    }

    [Fact]
    public async Task ARolloutThatMakesNoProgressForItsDeadlineIsMarkedProgressDeadlineExceeded()
    {
        var ns = await fx.ControlPlane.NewNamespaceAsync();
        var path = $"/apis/apps/v1/namespaces/{ns}/deployments/web";
        var d = Manifests.Deployment("web", 1);
        // Its pod can never be scheduled; the annotation keeps the automatic rollback out of it.
        d = d with
        {
            Metadata = d.Metadata with { Annotations = new Dictionary<string, string> { [WellKnown.AutoRollbackAnnotation] = "false" } },
            Spec = d.Spec with
            {
                ProgressDeadlineSeconds = 600,
                Template = d.Spec.Template with { Spec = d.Spec.Template.Spec with { NodeSelector = new Dictionary<string, string> { ["disk"] = "none-such" } } },
            },
        };
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", d);
        // All the progress there will be: one updated replica, never available.
        var started = await Eventually.Until(async () => await Api.GetAsync<Deployment>(path) is { } x
            && x.Status is { UpdatedReplicas: 1, Replicas: 1 } s && s.ObservedGeneration == x.Metadata.Generation
            && Conditions.Get(s.Conditions, "Progressing") is { Reason: "ReplicaSetUpdated" } ? x : null, "the rollout to start");
        var since = Conditions.Get(started.Status!.Conditions, "Progressing")!.LastUpdateTime;
        Assert.Equal(fx.Clock.GetUtcNow(), since);
        var deployment = fx.Grains.GetGrain<IDeploymentGrain>(ResourceTypes.Deployment.Key(ns, "web")).AsReference<IReconciler>();

        // A second short of the deadline it is still progressing. A spec change that is no
        // progress and no new rollout (the history limit) makes a pass at this instant, seen
        // when it reports the new generation as observed.
        fx.Clock.Advance(TimeSpan.FromSeconds(599));
        using var patched = await Api.SendAsync(HttpMethod.Patch, path, """{"spec":{"revisionHistoryLimit":9}}""", "application/merge-patch+json");
        var changed = await ApiClient.ReadAsync<Deployment>(patched, System.Net.HttpStatusCode.OK);
        var observed = await Eventually.Until(async () => await Api.GetAsync<Deployment>(path) is { } x && x.Status?.ObservedGeneration == changed.Metadata.Generation ? x : null,
            "a pass that observes the new generation");
        Assert.Equal(("True", "ReplicaSetUpdated", since), Conditions.Get(observed.Status!.Conditions, "Progressing") is { } c ? (c.Status, c.Reason, c.LastUpdateTime) : default);

        fx.Clock.Advance(2 * Second);
        await deployment.PokeAsync();

        var stuck = await Eventually.Until(async () => await Api.GetAsync<Deployment>(path) is { } x
            && Conditions.Get(x.Status?.Conditions, "Progressing") is { Reason: "ProgressDeadlineExceeded" } ? x : null, "the deadline to be exceeded");
        var progressing = Conditions.Get(stuck.Status!.Conditions, "Progressing")!;
        Assert.Equal(ConditionStatus.False, progressing.Status);
        Assert.Equal(since + TimeSpan.FromSeconds(601), progressing.LastUpdateTime);
        Assert.Null(Conditions.Get(stuck.Status.Conditions, "RolledBack"));
    }

    [Fact]
    public async Task EventsOlderThanTheTtlAreSweptAndYoungerOnesKept()
    {
        var ns = await fx.ControlPlane.NewNamespaceAsync();
        var subject = await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("subject", nodeSelector: new Dictionary<string, string> { ["disk"] = "none-such" }));
        var recorder = fx.ControlPlane.Services.GetRequiredService<EventRecorder>();
        await recorder.NormalAsync(subject, "Old", "recorded first", "test");
        fx.Clock.Advance(TimeSpan.FromMinutes(6));
        await recorder.NormalAsync(subject, "Young", "recorded six minutes later", "test");
        await Eventually.True(async () => (await ReasonsAsync(ns)).IsSupersetOf(["Old", "Young"]), "both events in the list");

        // A sweeper on the fake clock over the silo's caches, with a TTL of 10 minutes: it looks
        // every minute from its start. The silo's own sweeper keeps real time and a TTL of an
        // hour: to it these events are new.
        var options = Options.Create(new ControlPlaneOptions { EventTtl = TimeSpan.FromMinutes(10) });
        using var sweeper = new EventSweeper(fx.ControlPlane.Services.GetRequiredService<ResourceCaches>(), fx.Grains, options, fx.Clock);
        await sweeper.StartAsync(CancellationToken.None);
        try
        {
            // 16 minutes after the first, exactly the TTL after the second: only the first is
            // older than the TTL. Both were judged by the same look.
            fx.Clock.Advance(TimeSpan.FromMinutes(10));
            await Eventually.True(async () => !(await ReasonsAsync(ns)).Contains("Old"), "the old event to be swept");
            Assert.Contains("Young", await ReasonsAsync(ns));

            fx.Clock.Advance(TimeSpan.FromMinutes(1));
            await Eventually.True(async () => !(await ReasonsAsync(ns)).Contains("Young"), "the younger event to be swept in its turn");
        }
        finally
        {
            await sweeper.StopAsync(CancellationToken.None);
        }
    }

    private static Pod PodOn(string node, string name, params Toleration[] tolerations)
    {
        var pod = Manifests.Pod(name);
        Toleration probe = new() { Key = ProbeTaint, Operator = "Exists", Effect = TaintEffect.NoExecute };
        return pod with { Spec = pod.Spec with { NodeName = node, Tolerations = [probe, .. tolerations] } };
    }

    private async Task<List<Pod>> PodsAsync(string ns, params string[] prefixes) =>
        [.. (await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods")).Where(p => prefixes.Any(x => p.Metadata.Name!.StartsWith(x, StringComparison.Ordinal)))];

    private async Task<HashSet<string?>> ReasonsAsync(string ns) =>
        [.. (await Api.ListAsync<Event>($"/api/v1/namespaces/{ns}/events")).Where(e => e.Source?.Component == "test").Select(e => e.Reason)];
}
