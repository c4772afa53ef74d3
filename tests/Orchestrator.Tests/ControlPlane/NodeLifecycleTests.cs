using System.Net;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>Lost nodes on fake nodes: taints, eviction, replacement, fencing when they return.</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class NodeLifecycleTests(ControlPlaneFixture cp)
{
    private ApiClient Api => cp.Api;

    [Fact]
    public async Task ALostNodesPodsAreReplacedOrFailedAndItsAgentIsFencedWhenItReturns()
    {
        var ns = await cp.NewNamespaceAsync();
        var zone = new Dictionary<string, string> { ["zone"] = ns };
        var doomed = await cp.StartFakeNodesAsync([$"{ns}-doomed"], labels: zone);
        Orchestrator.NodeAgent.Agent.NodeAgentGroup? survivor = null;
        try
        {
            // Everything lands on the doomed node first.
            var d = Manifests.Deployment("web", 2);
            d = d with { Spec = d.Spec with { Template = d.Spec.Template with { Spec = d.Spec.Template.Spec with { NodeSelector = zone } } } };
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", d);
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("bare", nodeSelector: zone));
            var patient = Manifests.Pod("patient", nodeSelector: zone);
            patient = patient with { Spec = patient.Spec with { Tolerations = [new Toleration { Key = NodeTaints.Unreachable, Operator = "Exists", Effect = TaintEffect.NoExecute }] } };
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", patient);
            await Eventually.True(async () => (await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods")).Count(p => p.Status?.Phase == PodPhase.Running) == 4, "4 running pods");
            var before = (await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods")).Where(p => p.Metadata.ControllerRef is not null).Select(p => p.Metadata.Uid).ToHashSet();

            survivor = await cp.StartFakeNodesAsync([$"{ns}-survivor"], labels: zone);
            await cp.StopFakeNodesAsync(doomed, deleteNodes: false);

            var node = await Eventually.Until(async () => await Api.GetAsync<Node>($"/api/v1/nodes/{ns}-doomed") is { } n
                && n.Spec.Taints?.Any(t => t.Key == NodeTaints.Unreachable && t.Effect == TaintEffect.NoExecute) == true ? n : null, "the unreachable taint");
            Assert.Equal(ConditionStatus.Unknown, node.ReadyCondition()!.Status);

            // Replicas come back on the survivor; the bare pod is Failed; the pod that tolerates
            // unreachable forever stays.
            await Eventually.True(async () =>
            {
                var pods = await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods");
                var fresh = pods.Where(p => p.Metadata.ControllerRef is not null && !before.Contains(p.Metadata.Uid) && p.Spec.NodeName == $"{ns}-survivor" && p.Status?.Phase == PodPhase.Running);
                var bare = pods.Single(p => p.Metadata.Name == "bare");
                return fresh.Count() == 2 && bare.Status is { Phase: PodPhase.Failed, Reason: "NodeLost" };
            }, "replacements on the survivor and the bare pod failed", TimeSpan.FromSeconds(30));
            var pods = await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods");
            Assert.All(pods.Where(p => before.Contains(p.Metadata.Uid)), p => Assert.NotNull(p.Metadata.DeletionTimestamp));
            Assert.Equal(PodPhase.Running, pods.Single(p => p.Metadata.Name == "patient").Status!.Phase);
            await Eventually.True(async () => (await Api.ListAsync<Event>($"/api/v1/namespaces/{ns}/events?fieldSelector=reason%3DTaintManagerEviction")).Count > 0, "a TaintManagerEviction event");

            // The node's agent comes back: it finishes the evicted pods, may not revive the
            // failed one, and the taint goes.
            var returned = await cp.StartFakeNodesAsync([$"{ns}-doomed"], labels: zone);
            try
            {
                await Eventually.True(async () =>
                {
                    var now = await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods");
                    var n = await Api.GetAsync<Node>($"/api/v1/nodes/{ns}-doomed");
                    return !now.Any(p => before.Contains(p.Metadata.Uid)) && n.IsReady() && n.Spec.Taints is null;
                }, "the returned agent to finish the evicted pods and the taint to go");
                var bare = await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/bare");
                Assert.Equal(PodPhase.Failed, bare.Status!.Phase);
                Assert.Equal(2, (await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dweb")).Count);
            }
            finally
            {
                await cp.StopFakeNodesAsync(returned);
            }
        }
        finally
        {
            if (survivor is not null)
            {
                await cp.StopFakeNodesAsync(survivor);
            }
        }
    }

    [Fact]
    public async Task CordonAndEvictionDrainANode()
    {
        var ns = await cp.NewNamespaceAsync();
        var zone = new Dictionary<string, string> { ["zone"] = ns };
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-a", $"{ns}-b"], labels: zone);
        try
        {
            await Api.SendAsync(HttpMethod.Patch, $"/api/v1/nodes/{ns}-b", """{"spec":{"unschedulable":true}}""", "application/merge-patch+json");
            var d = Manifests.Deployment("web", 2);
            d = d with { Spec = d.Spec with { Template = d.Spec.Template with { Spec = d.Spec.Template.Spec with { NodeSelector = zone } } } };
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", d);
            var pods = await Eventually.Until(async () => await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods") is { Count: 2 } l && l.All(p => p.Status?.Phase == PodPhase.Running) ? l : null, "2 running pods");
            Assert.All(pods, p => Assert.Equal($"{ns}-a", p.Spec.NodeName));

            // Drain a: cordon it, uncordon b, evict its pods; they come back on b.
            await Api.SendAsync(HttpMethod.Patch, $"/api/v1/nodes/{ns}-a", """{"spec":{"unschedulable":true}}""", "application/merge-patch+json");
            await Api.SendAsync(HttpMethod.Patch, $"/api/v1/nodes/{ns}-b", """{"spec":{"unschedulable":false}}""", "application/merge-patch+json");
            foreach (var p in pods)
            {
                var response = await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods/{p.Metadata.Name}/eviction",
                    $$$"""{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"{{{p.Metadata.Name}}}","namespace":"{{{ns}}}"}}""");
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            }
            await Eventually.True(async () => await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods") is { Count: 2 } l && l.All(p => p.Spec.NodeName == $"{ns}-b" && p.Status?.Phase == PodPhase.Running),
                "the pods to move to b");
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }
}
