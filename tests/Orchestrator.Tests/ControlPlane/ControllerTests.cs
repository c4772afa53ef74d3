using System.Net;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>Controller behaviour in the sample-controller style: given objects, expected actions.</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class ControllerTests(ControlPlaneFixture cp)
{
    private ApiClient Api => cp.Api;

    private Task<List<Pod>> PodsAsync(string ns, string selector = "") =>
        Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods{(selector.Length > 0 ? "?labelSelector=" + Uri.EscapeDataString(selector) : "")}");

    [Fact]
    public async Task ReplicaSetCreatesPodsAndDoesNothingWhenInSync()
    {
        var ns = await cp.NewNamespaceAsync();
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/replicasets", Manifests.ReplicaSet("rs", 3));
        var rs = await Eventually.Until(async () =>
        {
            var r = await Api.GetAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets/rs");
            return r.Status?.Replicas == 3 ? r : null;
        }, "status.replicas 3");
        var pods = await PodsAsync(ns);
        Assert.Equal(3, pods.Count);
        Assert.All(pods, p =>
        {
            Assert.StartsWith("rs-", p.Metadata.Name, StringComparison.Ordinal);
            Assert.Equal(rs.Metadata.Uid, p.Metadata.ControllerRef!.Uid);
            Assert.Equal("rs", p.Metadata.Labels!["app"]);
        });
        // In sync: a re-list after a pause in activity creates nothing more.
        var before = pods.Select(p => p.Metadata.Uid).Order().ToList();
        await Api.SendAsync(HttpMethod.Patch, $"/apis/apps/v1/namespaces/{ns}/replicasets/rs", """{"metadata":{"labels":{"touched":"yes"}}}""", "application/merge-patch+json");
        await Eventually.True(async () => (await Api.GetAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets/rs")).Metadata.Labels?.ContainsKey("touched") == true, "the label");
        Assert.Equal(before, (await PodsAsync(ns)).Select(p => p.Metadata.Uid).Order().ToList());
    }

    [Fact]
    public async Task ReplicaSetReplacesADeletedPod()
    {
        var ns = await cp.NewNamespaceAsync();
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/replicasets", Manifests.ReplicaSet("rs", 2));
        var pods = await Eventually.Until(async () => await PodsAsync(ns) is { Count: 2 } p ? p : null, "2 pods");
        await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/pods/{pods[0].Metadata.Name}");
        await Eventually.True(async () => (await PodsAsync(ns)) is { Count: 2 } now && !now.Any(p => p.Metadata.Uid == pods[0].Metadata.Uid), "a replacement pod");
    }

    [Fact]
    public async Task ReplicaSetScalesDownUnscheduledAndNotReadyPodsFirst()
    {
        var ns = await cp.NewNamespaceAsync();
        // One node with room for exactly two of the pods: the third stays unscheduled.
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-n1"], cpu: "1", memory: "1Gi");
        try
        {
            var rs = Manifests.ReplicaSet("rs", 3) with { };
            rs = rs with { Spec = rs.Spec with { Template = Manifests.Template("rs", "busybox:1", new() { ["cpu"] = "400m" }) } };
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/replicasets", rs);
            await Eventually.True(async () => (await PodsAsync(ns)).Count(p => p.Status?.Phase == PodPhase.Running) == 2 && (await PodsAsync(ns)).Count == 3, "two running pods and one pending");
            var pending = (await PodsAsync(ns)).Single(p => !p.IsScheduled());

            await Api.SendAsync(HttpMethod.Patch, $"/apis/apps/v1/namespaces/{ns}/replicasets/rs/scale", """{"spec":{"replicas":2}}""", "application/merge-patch+json");
            await Eventually.True(async () => (await PodsAsync(ns)).Count == 2, "2 pods");
            var left = await PodsAsync(ns);
            Assert.DoesNotContain(left, p => p.Metadata.Uid == pending.Metadata.Uid);
            Assert.All(left, p => Assert.Equal(PodPhase.Running, p.Status?.Phase));
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }

    [Fact]
    public async Task ReplicaSetIgnoresPodsNotControlledByIt()
    {
        var ns = await cp.NewNamespaceAsync();
        // A bare pod with matching labels exists first: the ReplicaSet neither counts nor deletes it.
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("bare", labels: new() { ["app"] = "rs" }));
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/replicasets", Manifests.ReplicaSet("rs", 1));
        await Eventually.True(async () => (await PodsAsync(ns, "app=rs")).Count == 2, "its own pod beside the bare one");
        await Api.SendAsync(HttpMethod.Patch, $"/apis/apps/v1/namespaces/{ns}/replicasets/rs/scale", """{"spec":{"replicas":0}}""", "application/merge-patch+json");
        await Eventually.True(async () => (await PodsAsync(ns, "app=rs")).Select(p => p.Metadata.Name).SequenceEqual(["bare"]), "only the bare pod left");
    }

    [Fact]
    public async Task DeploymentCreatesANewReplicaSetOnTemplateChange()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-n1"]);
        try
        {
            var path = $"/apis/apps/v1/namespaces/{ns}/deployments/web";
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 2, image: "busybox:1"));
            var first = await Eventually.Until(async () => await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets") is { Count: 1 } l && l[0].Status?.AvailableReplicas == 2 ? l[0] : null, "the first replica set available");
            Assert.Equal("1", first.Metadata.Annotations![WellKnown.RevisionAnnotation]);
            var hash = first.Metadata.Labels![WellKnown.PodTemplateHashLabel];
            Assert.Equal($"web-{hash}", first.Metadata.Name);
            Assert.All(await PodsAsync(ns), p => Assert.Equal(hash, p.Metadata.Labels![WellKnown.PodTemplateHashLabel]));

            // Only metadata changes: same ReplicaSet.
            await Api.SendAsync(HttpMethod.Patch, path, """{"metadata":{"annotations":{"note":"x"}}}""", "application/merge-patch+json");
            // The template changes: a new ReplicaSet takes over, the old one is scaled to zero.
            await Api.SendAsync(HttpMethod.Patch, path, """{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"busybox:2","command":["sleep","3600"]}]}}}}""", "application/merge-patch+json");
            var sets = await Eventually.Until(async () =>
            {
                var l = await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets");
                var old = l.SingleOrDefault(r => r.Metadata.Name == first.Metadata.Name);
                var fresh = l.SingleOrDefault(r => r.Metadata.Name != first.Metadata.Name);
                return l.Count == 2 && old?.Spec.Replicas == 0 && fresh?.Status?.AvailableReplicas == 2 ? l : null;
            }, "the new replica set to take over");
            var newRs = sets.Single(r => r.Metadata.Name != first.Metadata.Name);
            Assert.Equal("2", newRs.Metadata.Annotations![WellKnown.RevisionAnnotation]);
            var d = await Eventually.Until(async () => await Api.GetAsync<Deployment>(path) is { Status.UpdatedReplicas: 2, Status.Replicas: 2 } x && x.Status.ObservedGeneration == x.Metadata.Generation ? x : null, "deployment status to settle");
            Assert.Equal(d.Metadata.Generation, d.Status!.ObservedGeneration);
            Assert.Contains(d.Status.Conditions!, c => c is { Type: "Available", Status: "True" });
            Assert.All(await Eventually.Until(async () => await PodsAsync(ns) is { Count: 2 } p ? p : null, "old pods to go"),
                p => Assert.Equal("busybox:2", p.Spec.Containers[0].Image));
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }

    [Fact]
    public async Task ServiceGetsAClusterIPAndEndpointsOfReadyPods()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-n1"]);
        try
        {
            var svc = await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", new Service
            {
                Metadata = new ObjectMeta { Name = "web" },
                Spec = new ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "web" }, Ports = [new ServicePort { Port = 80, TargetPort = 8080 }] },
            });
            Assert.True(Cidr.Parse("10.96.0.0/12").Contains(svc.Spec.ClusterIP!));
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 2));
            var ep = await Eventually.Until(async () => await Api.TryGetAsync<Endpoints>($"/api/v1/namespaces/{ns}/endpoints/web") is { Subsets: [{ Addresses.Count: 2 }] } e ? e : null, "two ready addresses");
            Assert.Equal(8080, ep.Subsets![0].Ports![0].Port);
            Assert.All(ep.Subsets[0].Addresses!, a => Assert.Equal("Pod", a.TargetRef!.Kind));

            // A requested address that is taken is refused, naming the field.
            var taken = await ApiClient.StatusAsync(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/services",
                $$$"""{"metadata":{"name":"other"},"spec":{"clusterIP":"{{{svc.Spec.ClusterIP}}}","ports":[{"port":80}]}}"""), 422);
            Assert.Contains("spec.clusterIP", taken.Details!.Causes!.Select(c => c.Field));
            var outside = await ApiClient.StatusAsync(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/services",
                """{"metadata":{"name":"other"},"spec":{"clusterIP":"192.168.1.1","ports":[{"port":80}]}}"""), 422);
            Assert.Contains("not in the valid range", outside.Message, StringComparison.Ordinal);

            await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/services/web");
            await Eventually.True(async () => await Api.TryGetAsync<Endpoints>($"/api/v1/namespaces/{ns}/endpoints/web") is null, "endpoints to go with the service");
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }
}
