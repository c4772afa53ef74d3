using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains;
using Orchestrator.Grains.Events;
using Orchestrator.Grains.Index;
using Orchestrator.Model;
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

    private ApiClient Api => fx.Api;

    [Fact]
    public async Task ASilentNodeBecomesUnreachableAtItsLeaseAndItsPodsAreEvictedWhenTheirTolerationsRunOut()
    {
        var ns = await fx.ControlPlane.NewNamespaceAsync();
        var name = $"{ns}-node";
        // The agent's calls, made by the test: register, then one heartbeat, then silence.
        var node = fx.Grains.GetGrain<INodeGrain>(name);
        await node.RegisterAsync(new NodeRegistration
        {
            Name = name,
            Capacity = new Dictionary<string, Quantity> { ["cpu"] = new("4"), ["memory"] = new("8Gi"), ["pods"] = new("110") },
            Allocatable = new Dictionary<string, Quantity> { ["cpu"] = new("4"), ["memory"] = new("8Gi"), ["pods"] = new("110") },
        });
        Assert.True(await node.HeartbeatAsync("boot-1", null));
        var lastHeartbeat = fx.Clock.GetUtcNow();
        try
        {
            // Bound to the node at creation. Pods are judged in the order of their keys, so by the
            // time "b-default" is evicted, the pass that did it has judged both "a-" pods too.
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", PodOn(name, "a-forever", new Toleration { Key = NodeTaints.Unreachable, Operator = "Exists", Effect = TaintEffect.NoExecute }));
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", PodOn(name, "a-patient", new Toleration { Key = NodeTaints.Unreachable, Operator = "Exists", Effect = TaintEffect.NoExecute, TolerationSeconds = 60 }));
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", PodOn(name, "b-default"));
            var defaulted = await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/b-default");
            Assert.Contains(defaulted.Spec.Tolerations!, t => t.Key == NodeTaints.Unreachable && t.TolerationSeconds == (long)FakeClockFixture.DefaultToleration.TotalSeconds);

            // A second short of the lease the node is still Ready; a second after, it is not.
            await AdvanceAndPokeNodeAsync(FakeClockFixture.NodeLease - Second);
            await AdvanceAndPokeNodeAsync(2 * Second);
            var lapsed = lastHeartbeat + FakeClockFixture.NodeLease + Second;
            var unreachable = await Eventually.Until(async () => await Api.GetAsync<Node>($"/api/v1/nodes/{name}") is { } n
                && n.Spec.Taints?.FirstOrDefault(t => t.Key == NodeTaints.Unreachable) is not null ? n : null, "the unreachable taint");
            var ready = unreachable.ReadyCondition()!;
            Assert.Equal((ConditionStatus.Unknown, "NodeStatusUnknown"), (ready.Status, ready.Reason));
            Assert.Equal(lapsed, ready.LastTransitionTime);
            var taint = Assert.Single(unreachable.Spec.Taints!);
            Assert.Equal((NodeTaints.Unreachable, TaintEffect.NoExecute, lapsed), (taint.Key, taint.Effect, taint.TimeAdded));
            Assert.All(await PodsAsync(ns), p => Assert.True(p.IsActive(), $"{p.Metadata.Name} evicted at once"));

            // The default toleration runs out first: b-default goes, the a- pods stay.
            await AdvanceAndPokeNodeAsync(FakeClockFixture.DefaultToleration);
            var pods = await Eventually.Until(async () => await PodsAsync(ns) is { } l && l.Single(p => p.Metadata.Name == "b-default").Status is { Phase: PodPhase.Failed } ? l : null,
                "b-default to be evicted");
            Assert.Equal("NodeLost", pods.Single(p => p.Metadata.Name == "b-default").Status!.Reason);
            Assert.All(pods.Where(p => p.Metadata.Name!.StartsWith("a-", StringComparison.Ordinal)), p => Assert.True(p.IsActive(), $"{p.Metadata.Name} evicted early"));

            // At 60 s a-patient goes; a-forever tolerates the taint with no limit.
            await AdvanceAndPokeNodeAsync(TimeSpan.FromSeconds(60) - FakeClockFixture.DefaultToleration);
            pods = await Eventually.Until(async () => await PodsAsync(ns) is { } l && l.Single(p => p.Metadata.Name == "a-patient").Status is { Phase: PodPhase.Failed } ? l : null,
                "a-patient to be evicted");
            Assert.True(pods.Single(p => p.Metadata.Name == "a-forever").IsActive());

            // Each eviction was recorded at the instant its toleration ran out.
            var lost = (await Api.ListAsync<Event>($"/api/v1/namespaces/{ns}/events"))
                .Where(e => e.Reason == "NodeLost")
                .ToDictionary(e => e.InvolvedObject.Name!, e => e.FirstTimestamp);
            Assert.Equal(new Dictionary<string, DateTimeOffset?>
            {
                ["b-default"] = lapsed + FakeClockFixture.DefaultToleration,
                ["a-patient"] = lapsed + TimeSpan.FromSeconds(60),
            }, lost);

            // The agent is back: Ready again, and the taint goes.
            Assert.True(await node.HeartbeatAsync("boot-1", null));
            var back = await Eventually.Until(async () => await Api.GetAsync<Node>($"/api/v1/nodes/{name}") is { Spec.Taints: null } n ? n : null, "the taint to go");
            Assert.Equal(ConditionStatus.True, back.ReadyCondition()!.Status);
        }
        finally
        {
            await Api.SendAsync(HttpMethod.Delete, $"/api/v1/nodes/{name}");
        }

        async Task AdvanceAndPokeNodeAsync(TimeSpan by)
        {
            fx.Clock.Advance(by);
            await node.PokeAsync();
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
        var deployment = fx.Grains.GetGrain<IDeploymentGrain>(ResourceTypes.Deployment.Key(ns, "web"));

        fx.Clock.Advance(TimeSpan.FromSeconds(599));
        await deployment.PokeAsync();
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

        // A sweeper on the fake clock over the silo's caches, with a TTL of 10 minutes (it looks
        // every minute). The silo's own sweeper keeps real time and a TTL of an hour: to it these
        // events are new.
        var options = Options.Create(new ControlPlaneOptions { EventTtl = TimeSpan.FromMinutes(10) });
        using var sweeper = new EventSweeper(fx.ControlPlane.Services.GetRequiredService<ResourceCaches>(), fx.Grains, options, fx.Clock);
        await sweeper.StartAsync(CancellationToken.None);
        try
        {
            // 11 minutes after the first, 5 after the second: only the first is past the TTL.
            fx.Clock.Advance(TimeSpan.FromMinutes(5));
            await Eventually.True(async () => !(await ReasonsAsync(ns)).Contains("Old"), "the old event to be swept");
            Assert.Contains("Young", await ReasonsAsync(ns));

            fx.Clock.Advance(TimeSpan.FromMinutes(6));
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
        return pod with { Spec = pod.Spec with { NodeName = node, Tolerations = tolerations.Length > 0 ? tolerations : null } };
    }

    private Task<List<Pod>> PodsAsync(string ns) => Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods");

    private async Task<HashSet<string?>> ReasonsAsync(string ns) =>
        [.. (await Api.ListAsync<Event>($"/api/v1/namespaces/{ns}/events")).Where(e => e.Source?.Component == "test").Select(e => e.Reason)];
}
