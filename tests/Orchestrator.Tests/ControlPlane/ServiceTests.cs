using System.Net;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.ControlPlane;

[Collection(ControlPlaneCollection.Name)]
public sealed class ServiceTests(ControlPlaneFixture cp)
{
    private ApiClient Api => cp.Api;

    private static string NodePortService(string name, params int?[] nodePorts) => ResourceJson.SerializeToString(new Service
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new ServiceSpec
        {
            Type = ServiceType.NodePort,
            Selector = new Dictionary<string, string> { ["app"] = name },
            Ports = nodePorts.Select((p, i) => new ServicePort { Name = $"p{i}", Port = 80 + i, NodePort = p }).ToList(),
        },
    });

    [Fact]
    public async Task NodePortsAreAllocatedInRangeAndNeverTwice()
    {
        var ns = await cp.NewNamespaceAsync();
        var a = await ApiClient.ReadAsync<Service>(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/services", NodePortService("a", null, null)), HttpStatusCode.Created);
        var ports = a.Spec.Ports!.Select(p => p.NodePort!.Value).ToList();
        Assert.All(ports, p => Assert.InRange(p, 30000, 32767));
        Assert.Equal(2, ports.Distinct().Count());

        var taken = await ApiClient.StatusAsync(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/services", NodePortService("b", 31999, ports[1])), 422);
        var cause = Assert.Single(taken.Details!.Causes!);
        Assert.Equal("spec.ports[1].nodePort", cause.Field);
        Assert.Contains("already allocated", cause.Message, StringComparison.Ordinal);
        Assert.Null(await Api.TryGetAsync<Service>($"/api/v1/namespaces/{ns}/services/b"));

        var outside = await ApiClient.StatusAsync(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/services", NodePortService("c", 8080)), 422);
        Assert.Contains("not in the valid range", outside.Message, StringComparison.Ordinal);

        // The refused service released what it was given: 31999 is free for someone else.
        var d = await ApiClient.ReadAsync<Service>(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/services", NodePortService("d", 31999)), HttpStatusCode.Created);
        Assert.Equal(31999, d.Spec.Ports![0].NodePort);

        // An update that leaves nodePort out keeps the allocated one; deleting releases it.
        var updated = await ApiClient.ReadAsync<Service>(await Api.SendAsync(HttpMethod.Put, $"/api/v1/namespaces/{ns}/services/a", NodePortService("a", null, null)), HttpStatusCode.OK);
        Assert.Equal(ports, updated.Spec.Ports!.Select(p => p.NodePort!.Value).ToList());
        await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/services/a");
        var reuse = await ApiClient.ReadAsync<Service>(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/services", NodePortService("e", ports[0])), HttpStatusCode.Created);
        Assert.Equal(ports[0], reuse.Spec.Ports![0].NodePort);
    }

    [Fact]
    public async Task ASelectorThatMatchesNothingAndAMissingPortNameAreNotErrors()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-n"]);
        try
        {
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 1));
            var svc = new Service
            {
                Metadata = new ObjectMeta { Name = "named" },
                Spec = new ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "web" }, Ports = [new ServicePort { Port = 80, TargetPort = "http" }] },
            };
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", svc);
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", svc with { Metadata = new ObjectMeta { Name = "nobody" }, Spec = svc.Spec with { Selector = new Dictionary<string, string> { ["app"] = "none" } } });
            await Eventually.True(async () => (await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods")).Any(p => p.IsReady()), "a ready pod");
            // The pod has no port named "http": it is left out of the endpoints, as in Kubernetes.
            var named = await Eventually.Until(() => Api.TryGetAsync<Endpoints>($"/api/v1/namespaces/{ns}/endpoints/named"), "endpoints of the named-port service");
            Assert.Null(named.Subsets);
            var nobody = await Eventually.Until(() => Api.TryGetAsync<Endpoints>($"/api/v1/namespaces/{ns}/endpoints/nobody"), "endpoints of the selector that matches nothing");
            Assert.Null(nobody.Subsets);
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }

    [Fact]
    public async Task EndpointsFollowReadiness()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-n"]);
        try
        {
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", new Service
            {
                Metadata = new ObjectMeta { Name = "web" },
                Spec = new ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "web" }, Ports = [new ServicePort { Port = 80 }] },
            });
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 2));
            await Eventually.True(async () => await Api.TryGetAsync<Endpoints>($"/api/v1/namespaces/{ns}/endpoints/web") is { Subsets: [{ Addresses.Count: 2 }] }, "two ready addresses");

            // A pod that fails its readiness probe is listed under notReadyAddresses.
            var unready = Manifests.Pod("unready", labels: new() { ["app"] = "web" });
            unready = unready with { Spec = unready.Spec with { Containers = [unready.Spec.Containers[0] with { ReadinessProbe = new Probe { Exec = new ExecAction { Command = ["false"] }, PeriodSeconds = 1, FailureThreshold = 1 } }] } };
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", unready);
            var ep = await Eventually.Until(async () => await Api.TryGetAsync<Endpoints>($"/api/v1/namespaces/{ns}/endpoints/web") is { Subsets: [{ Addresses.Count: 2, NotReadyAddresses.Count: 1 }] } e ? e : null, "the unready pod under notReadyAddresses");
            Assert.Equal("unready", ep.Subsets![0].NotReadyAddresses![0].TargetRef!.Name);
            // Gone, it leaves the endpoints.
            await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/pods/unready");
            await Eventually.True(async () => await Api.TryGetAsync<Endpoints>($"/api/v1/namespaces/{ns}/endpoints/web") is { Subsets: [{ Addresses.Count: 2, NotReadyAddresses: null }] }, "the unready pod to leave");
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }
}
