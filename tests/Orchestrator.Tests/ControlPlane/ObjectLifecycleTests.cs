using System.Net;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.ControlPlane;

[Collection(ControlPlaneCollection.Name)]
public sealed class ObjectLifecycleTests(ControlPlaneFixture cp)
{
    private ApiClient Api => cp.Api;

    [Fact]
    public async Task GenerationBumpsOnSpecChangesOnly()
    {
        var ns = await cp.NewNamespaceAsync();
        var path = $"/api/v1/namespaces/{ns}/services/web";
        var svc = await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", new Service
        {
            Metadata = new ObjectMeta { Name = "web" },
            Spec = new ServiceSpec { Ports = [new ServicePort { Port = 80 }] },
        });
        Assert.Equal(1, svc.Metadata.Generation);

        var labeled = await Patch<Service>(path, """{"metadata":{"labels":{"team":"a"}}}""");
        Assert.Equal(1, labeled.Metadata.Generation);
        Assert.True(long.Parse(labeled.Metadata.ResourceVersion!) > long.Parse(svc.Metadata.ResourceVersion!));

        var respec = await Patch<Service>(path, """{"spec":{"ports":[{"port":81}]}}""");
        Assert.Equal(2, respec.Metadata.Generation);
        // Allocated values survive an update that leaves them out.
        Assert.Equal(svc.Spec.ClusterIP, respec.Spec.ClusterIP);
    }

    [Fact]
    public async Task StatusWritesCannotChangeTheSpecAndSpecWritesCannotChangeTheStatus()
    {
        var ns = await cp.NewNamespaceAsync();
        var path = $"/apis/apps/v1/namespaces/{ns}/deployments/web";
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 0));
        var current = await Eventually.Until(async () =>
        {
            var d = await Api.GetAsync<Deployment>(path);
            // Settled: the controller writes no more status after its ReplicaSet is available.
            return d.Status?.ObservedGeneration == 1 && d.Status.Conditions?.Any(c => c.Reason == "NewReplicaSetAvailable") == true ? d : null;
        }, "the controller to observe the deployment and settle");

        // A status write that also carries a spec change: the spec change is ignored.
        var sneaky = current with { Spec = current.Spec with { Replicas = 7 }, Status = current.Status! with { CollisionCount = 3 } };
        var afterStatus = await ApiClient.ReadAsync<Deployment>(await Api.SendAsync(HttpMethod.Put, path + "/status", ResourceJson.SerializeToString(sneaky)), HttpStatusCode.OK);
        Assert.Equal(0, afterStatus.Spec.Replicas);
        Assert.Equal(3, afterStatus.Status!.CollisionCount);
        Assert.Equal(1, afterStatus.Metadata.Generation);

        // A spec write that carries a status: the stored status stays.
        var fresh = await Api.GetAsync<Deployment>(path);
        var withStatus = fresh with { Spec = fresh.Spec with { Replicas = 0, MinReadySeconds = 1 }, Status = new DeploymentStatus { CollisionCount = 99 } };
        var afterSpec = await ApiClient.ReadAsync<Deployment>(await Api.SendAsync(HttpMethod.Put, path, ResourceJson.SerializeToString(withStatus)), HttpStatusCode.OK);
        Assert.Equal(1, afterSpec.Spec.MinReadySeconds);
        Assert.Equal(3, afterSpec.Status!.CollisionCount);
        Assert.Equal(2, afterSpec.Metadata.Generation);
    }

    [Fact]
    public async Task PatchesMergeAndJsonPatch()
    {
        var ns = await cp.NewNamespaceAsync();
        var path = $"/api/v1/namespaces/{ns}/endpoints/ep";
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/endpoints", new Endpoints { Metadata = new ObjectMeta { Name = "ep", Labels = new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" } } });
        var merged = await Patch<Endpoints>(path, """{"metadata":{"labels":{"a":null,"c":"3"}}}""");
        Assert.Equal(new Dictionary<string, string> { ["b"] = "2", ["c"] = "3" }, merged.Metadata.Labels);
        var jsonPatched = await Patch<Endpoints>(path, """[{"op":"replace","path":"/metadata/labels/b","value":"20"},{"op":"add","path":"/metadata/annotations","value":{"x":"y"}}]""", "application/json-patch+json");
        Assert.Equal("20", jsonPatched.Metadata.Labels!["b"]);
        Assert.Equal("y", jsonPatched.Metadata.Annotations!["x"]);
        var failed = await ApiClient.StatusAsync(await Api.SendAsync(HttpMethod.Patch, path, """[{"op":"test","path":"/metadata/labels/b","value":"nope"}]""", "application/json-patch+json"), 422);
        Assert.Contains("test failed", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ScaleSubresource()
    {
        var ns = await cp.NewNamespaceAsync();
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/replicasets", Manifests.ReplicaSet("rs", 0));
        var scale = await Api.GetAsync<Scale>($"/apis/apps/v1/namespaces/{ns}/replicasets/rs/scale");
        Assert.Equal(("autoscaling/v1", "Scale", 0), (scale.ApiVersion, scale.Kind, scale.Spec.Replicas));
        Assert.Equal("app=rs", scale.Status!.Selector);
        var scaled = await Patch<Scale>($"/apis/apps/v1/namespaces/{ns}/replicasets/rs/scale", """{"spec":{"replicas":2}}""");
        Assert.Equal(2, scaled.Spec.Replicas);
        Assert.Equal(2, (await Api.GetAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets/rs")).Spec.Replicas);
        await ApiClient.StatusAsync(await Api.SendAsync(HttpMethod.Put, $"/apis/apps/v1/namespaces/{ns}/replicasets/rs/scale", """{"spec":{"replicas":-3}}"""), 422);
    }

    [Fact]
    public async Task DeletingAnOwnerDeletesItsDependents()
    {
        var ns = await cp.NewNamespaceAsync();
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 3));
        await Eventually.True(async () => (await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods")).Count == 3, "3 pods");
        Assert.Single(await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets"));

        var response = await Api.SendAsync(HttpMethod.Delete, $"/apis/apps/v1/namespaces/{ns}/deployments/web");
        Assert.True(response.IsSuccessStatusCode);
        await Eventually.True(async () =>
            (await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets")).Count == 0
            && (await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods")).Count == 0, "replica sets and (unbound) pods to be gone");
    }

    [Fact]
    public async Task OrphanPropagationKeepsDependents()
    {
        var ns = await cp.NewNamespaceAsync();
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/replicasets", Manifests.ReplicaSet("rs", 2));
        await Eventually.True(async () => (await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods")).Count == 2, "2 pods");
        await Api.SendAsync(HttpMethod.Delete, $"/apis/apps/v1/namespaces/{ns}/replicasets/rs?propagationPolicy=Orphan");
        await Eventually.True(async () => (await Api.TryGetAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets/rs")) is null, "the replica set to go");
        var pods = await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods");
        Assert.Equal(2, pods.Count);
        Assert.All(pods, p => Assert.Null(p.Metadata.OwnerReferences));
    }

    [Fact]
    public async Task ForegroundDeletionWaitsForDependents()
    {
        var ns = await cp.NewNamespaceAsync();
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/replicasets", Manifests.ReplicaSet("rs", 2));
        await Eventually.True(async () => (await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods")).Count == 2, "2 pods");
        var response = await Api.SendAsync(HttpMethod.Delete, $"/apis/apps/v1/namespaces/{ns}/replicasets/rs", """{"propagationPolicy":"Foreground"}""");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await Eventually.True(async () => (await Api.TryGetAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets/rs")) is null
            && (await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods")).Count == 0, "the replica set and its pods to go");
    }

    [Fact]
    public async Task DeletingANamespaceDeletesEverythingInIt()
    {
        var ns = await cp.NewNamespaceAsync();
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 2));
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", new Service { Metadata = new ObjectMeta { Name = "web" }, Spec = new ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "web" }, Ports = [new ServicePort { Port = 80 }] } });
        await Eventually.True(async () => (await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods")).Count == 2, "2 pods");
        var deleted = await ApiClient.ReadAsync<Namespace>(await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}"), HttpStatusCode.Accepted);
        Assert.Equal("Terminating", deleted.Status!.Phase);
        var refused = await ApiClient.StatusAsync(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods", """{"metadata":{"name":"late"},"spec":{"containers":[{"name":"c","image":"i"}]}}"""), 403);
        Assert.Contains("being terminated", refused.Message, StringComparison.Ordinal);
        await Eventually.True(async () => await Api.TryGetAsync<Namespace>($"/api/v1/namespaces/{ns}") is null, "the namespace to go");
        Assert.Empty(await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods"));
        Assert.Empty(await Api.ListAsync<Service>($"/api/v1/namespaces/{ns}/services"));
        await ApiClient.StatusAsync(await Api.SendAsync(HttpMethod.Delete, "/api/v1/namespaces/default"), 403);
    }

    [Fact]
    public async Task BoundPodsAreDeletedGracefullyByTheirNode()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-n1"]);
        try
        {
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("p"));
            await Eventually.Until(async () => (await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/p")) is { Status.Phase: PodPhase.Running } p ? p : null, "the pod to run");
            var response = await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/pods/p");
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var terminating = await ApiClient.ReadAsync<Pod>(response, HttpStatusCode.Accepted);
            Assert.NotNull(terminating.Metadata.DeletionTimestamp);
            Assert.Equal(30, terminating.Metadata.DeletionGracePeriodSeconds);
            // The node's agent stops it and finishes the deletion.
            await Eventually.True(async () => await Api.TryGetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/p") is null, "the node to finish the deletion");
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }

    [Fact]
    public async Task UnboundPodsAreDeletedAtOnce()
    {
        var ns = await cp.NewNamespaceAsync();
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("p", nodeSelector: new Dictionary<string, string> { ["nowhere"] = "true" }));
        var response = await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(await Api.TryGetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/p"));
    }

    [Fact]
    public async Task GenerateNameMakesAUniqueName()
    {
        var ns = await cp.NewNamespaceAsync();
        var a = await Api.CreateAsync($"/api/v1/namespaces/{ns}/endpoints", new Endpoints { Metadata = new ObjectMeta { GenerateName = "ep-" } });
        var b = await Api.CreateAsync($"/api/v1/namespaces/{ns}/endpoints", new Endpoints { Metadata = new ObjectMeta { GenerateName = "ep-" } });
        Assert.StartsWith("ep-", a.Metadata.Name, StringComparison.Ordinal);
        Assert.NotEqual(a.Metadata.Name, b.Metadata.Name);
    }

    private async Task<T> Patch<T>(string path, string body, string contentType = "application/merge-patch+json") =>
        await ApiClient.ReadAsync<T>(await Api.SendAsync(HttpMethod.Patch, path, body, contentType), HttpStatusCode.OK);
}
