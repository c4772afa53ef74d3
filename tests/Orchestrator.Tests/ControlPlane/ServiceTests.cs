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
    public async Task BadAddressesAndPortsAreRefusedNamingTheField()
    {
        var ns = await cp.NewNamespaceAsync();
        var path = $"/api/v1/namespaces/{ns}/services";
        static Service ClusterIP(string name, string? ip) => new()
        {
            Metadata = new ObjectMeta { Name = name },
            Spec = new ServiceSpec { ClusterIP = ip, Selector = new Dictionary<string, string> { ["app"] = name }, Ports = [new ServicePort { Port = 80 }] },
        };

        // A clusterIP outside the service CIDR (10.96.0.0/12), its network address, and one taken.
        foreach (var ip in new[] { "192.168.1.10", "10.96.0.0", "10.112.0.1" })
        {
            var outside = await ApiClient.StatusAsync(await Api.PostJsonAsync(path, ResourceJson.SerializeToString(ClusterIP("outside", ip))), 422);
            Assert.Equal("spec.clusterIP", Assert.Single(outside.Details!.Causes!).Field);
            Assert.Contains("10.96.0.0/12", outside.Message, StringComparison.Ordinal);
        }
        var first = await Api.CreateAsync(path, ClusterIP("first", "10.96.7.7"));
        Assert.Equal("10.96.7.7", first.Spec.ClusterIP);
        var taken = await ApiClient.StatusAsync(await Api.PostJsonAsync(path, ResourceJson.SerializeToString(ClusterIP("second", "10.96.7.7"))), 422);
        Assert.Equal("spec.clusterIP", Assert.Single(taken.Details!.Causes!).Field);
        Assert.Contains("already allocated", taken.Message, StringComparison.Ordinal);

        // NodePorts outside 30000-32767, on either port of two.
        foreach (var (ports, field) in new[] { (new int?[] { 8080 }, "spec.ports[0].nodePort"), (new int?[] { 30500, 40000 }, "spec.ports[1].nodePort") })
        {
            var outside = await ApiClient.StatusAsync(await Api.PostJsonAsync(path, NodePortService("np", ports)), 422);
            var cause = Assert.Single(outside.Details!.Causes!);
            Assert.Equal(field, cause.Field);
            Assert.Contains("30000-32767", cause.Message, StringComparison.Ordinal);
        }
        // Nothing was kept from the refused attempts: 30500 is free.
        var held = await ApiClient.ReadAsync<Service>(await Api.PostJsonAsync(path, NodePortService("held", 30500)), HttpStatusCode.Created);
        var other = await ApiClient.ReadAsync<Service>(await Api.PostJsonAsync(path, NodePortService("other", 30501)), HttpStatusCode.Created);

        // An update asking for a port another service holds is refused, and changes nothing.
        var steal = await ApiClient.StatusAsync(await Api.SendAsync(HttpMethod.Put, $"{path}/other", NodePortService("other", 30500)), 422);
        Assert.Equal("spec.ports[0].nodePort", Assert.Single(steal.Details!.Causes!).Field);
        Assert.Equal(30501, (await Api.GetAsync<Service>($"{path}/other")).Spec.Ports![0].NodePort);
        // The port the failed update would have given up is still the service's.
        var clash = await ApiClient.StatusAsync(await Api.PostJsonAsync(path, NodePortService("clash", 30501)), 422);
        Assert.Equal("spec.ports[0].nodePort", Assert.Single(clash.Details!.Causes!).Field);
        Assert.Equal(30500, held.Spec.Ports![0].NodePort);
        Assert.Equal(30501, other.Spec.Ports![0].NodePort);
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
