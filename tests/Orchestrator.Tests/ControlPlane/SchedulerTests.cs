using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.ControlPlane;

[Collection(ControlPlaneCollection.Name)]
public sealed class SchedulerTests(ControlPlaneFixture cp)
{
    private ApiClient Api => cp.Api;

    private async Task<Condition> UnschedulableAsync(string ns, string pod, string contains) =>
        await Eventually.Until(async () =>
        {
            var p = await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/{pod}");
            var c = Conditions.Get(p.Status?.Conditions, PodConditionType.PodScheduled);
            return c is { Status: ConditionStatus.False } && c.Message!.Contains(contains, StringComparison.Ordinal) ? c : null;
        }, $"pod {pod} to be unschedulable with \"{contains}\"");

    [Fact]
    public async Task FiltersCountTheReasonsPerNode()
    {
        var ns = await cp.NewNamespaceAsync();
        var small = await cp.StartFakeNodesAsync([$"{ns}-small-1", $"{ns}-small-2"], cpu: "8", memory: "1Gi", labels: new() { ["zone"] = ns });
        var tainted = await cp.StartFakeNodesAsync([$"{ns}-tainted"], cpu: "8", memory: "64Gi", labels: new() { ["zone"] = ns }, taints: ["dedicated=db:NoSchedule"]);
        try
        {
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("big", requests: new() { ["memory"] = "4Gi" }, nodeSelector: new() { ["zone"] = ns }));
            var condition = await UnschedulableAsync(ns, "big", "nodes are available");
            Assert.Equal("Unschedulable", condition.Reason);
            // Other tests' nodes fail the nodeSelector; ours fail for memory and the taint.
            Assert.Contains("2 Insufficient memory", condition.Message, StringComparison.Ordinal);
            Assert.Contains("1 node(s) had untolerated taint {dedicated: db}", condition.Message, StringComparison.Ordinal);
            Assert.Matches(@"^0/\d+ nodes are available: ", condition.Message!);

            // A toleration lets it onto the tainted node.
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("tolerant", requests: new() { ["memory"] = "4Gi" }, nodeSelector: new() { ["zone"] = ns }) is var p
                ? p with { Spec = p.Spec with { Tolerations = [new Toleration { Key = "dedicated", Operator = "Equal", Value = "db", Effect = "NoSchedule" }] } }
                : null!);
            await Eventually.True(async () => (await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/tolerant")).Spec.NodeName == $"{ns}-tainted", "the tolerant pod on the tainted node");

            await Eventually.True(async () => (await Api.ListAsync<Event>($"/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name%3Dbig"))
                .Any(e => e.Reason == "FailedScheduling" && e.EventType == EventTypes.Warning), "a FailedScheduling event");
        }
        finally
        {
            await cp.StopFakeNodesAsync(small);
            await cp.StopFakeNodesAsync(tainted);
        }
    }

    [Fact]
    public async Task NotReadyNodesAreSkippedAndAPendingPodIsRetriedWhenANodeArrives()
    {
        var ns = await cp.NewNamespaceAsync();
        var gone = await cp.StartFakeNodesAsync([$"{ns}-gone"], labels: new() { ["zone"] = ns });
        // Stop its agent without deleting the node: its lease runs out and it becomes NotReady.
        await cp.StopFakeNodesAsync(gone, deleteNodes: false);
        await Eventually.True(async () => (await Api.GetAsync<Node>($"/api/v1/nodes/{ns}-gone")).ReadyCondition()?.Status == ConditionStatus.Unknown, "the node to go NotReady");
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("p", nodeSelector: new() { ["zone"] = ns }));
        var condition = await UnschedulableAsync(ns, "p", "1 node(s) not ready");
        Assert.Contains("nodes are available", condition.Message, StringComparison.Ordinal);

        var arriving = await cp.StartFakeNodesAsync([$"{ns}-new"], labels: new() { ["zone"] = ns });
        try
        {
            var pod = await Eventually.Until(async () => await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/p") is { Status.Phase: PodPhase.Running } x ? x : null, "the pod to run on the new node");
            Assert.Equal($"{ns}-new", pod.Spec.NodeName);
            await Eventually.True(async () => (await Api.ListAsync<Event>($"/api/v1/namespaces/{ns}/events?fieldSelector=reason%3DScheduled"))
                .Any(e => e.InvolvedObject.Name == "p" && e.Message!.Contains($"to {ns}-new", StringComparison.Ordinal)), "the Scheduled event");
        }
        finally
        {
            await cp.StopFakeNodesAsync(arriving);
            await Api.SendAsync(HttpMethod.Delete, $"/api/v1/nodes/{ns}-gone");
        }
    }

    [Fact]
    public async Task APodWaitsForCapacityAndGetsItWhenAPodFinishes()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-n"], cpu: "1", labels: new() { ["zone"] = ns });
        try
        {
            var requests = new Dictionary<string, string> { ["cpu"] = "600m" };
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("first", requests: requests, nodeSelector: new() { ["zone"] = ns }));
            await Eventually.True(async () => (await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/first")).Status?.Phase == PodPhase.Running, "the first pod to run");
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("second", requests: requests, nodeSelector: new() { ["zone"] = ns }));
            await UnschedulableAsync(ns, "second", "1 Insufficient cpu");
            await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/pods/first");
            await Eventually.True(async () => (await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/second")).Spec.NodeName == $"{ns}-n", "the second pod to be bound once the first is gone");
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }
}
