using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.ControlPlane;

[Collection(ControlPlaneCollection.Name)]
public sealed class SmokeTests(ControlPlaneFixture cp)
{
    [Fact]
    public async Task DeploymentPodsRunOnFakeNodes()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-n1", $"{ns}-n2"]);
        try
        {
            await cp.Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 4));
            var d = await Eventually.Until(async () =>
            {
                var dep = await cp.Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/web");
                return dep.Status?.AvailableReplicas == 4 ? dep : null;
            }, "4 available replicas");
            var pods = await cp.Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods");
            Assert.Equal(4, pods.Count);
            Assert.All(pods, p => Assert.Equal(PodPhase.Running, p.Status?.Phase));
            // Spread: two replicas per node.
            Assert.Equal([2, 2], pods.GroupBy(p => p.Spec.NodeName).Select(g => g.Count()).ToArray());
            Assert.Equal(d.Metadata.Generation, d.Status!.ObservedGeneration);
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }
}
