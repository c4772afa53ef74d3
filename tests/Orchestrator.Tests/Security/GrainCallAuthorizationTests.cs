using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.Client.Hosting;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Security;
using Orchestrator.Grains.Storage.Credentials;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.NodeProtocol;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Security;

/// <summary>
/// A silo with grain call authorization on and an Orleans client on its gateway (with a
/// certificate of the cluster CA) that sets its bearer token in the RequestContext itself, call
/// by call.
/// </summary>
public sealed class GrainCallAuthorizationFixture : IAsyncLifetime
{
    public ControlPlaneFixture ControlPlane { get; } = new(["--Orchestrator:Security:AuthorizeGrainCalls=true"]);

    private IHost _client = null!;

    public IClusterClient Client => _client.Services.GetRequiredService<IClusterClient>();

    /// <summary>The cluster's credentials as the silo stored them in its data directory.</summary>
    public ClusterCredentials Credentials { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await ControlPlane.InitializeAsync();
        var stored = await new FileCredentialStore(ControlPlane.DataDirectory).LoadAsync(CancellationToken.None);
        Credentials = ClusterCredentials.From(stored!);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Orchestrator:Profile"] = "embedded",
            ["Orchestrator:GatewayPort"] = ControlPlane.GatewayPort.ToString(CultureInfo.InvariantCulture),
            ["Orchestrator:ClusterId"] = ControlPlane.ClusterId,
            ["Orchestrator:ConnectTimeout"] = "00:00:20",
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // A certificate of the cluster CA gets it through the gateway's TLS; its token source is
        // empty, so each call carries only the token the test puts into its RequestContext.
        var certificate = Credentials.Ca.IssueClient("grain-call-tests", [], DateTimeOffset.UtcNow);
        builder.Services.AddOrchestratorClient(builder.Configuration, new ClientCredentials(Credentials.Ca.Certificate, certificate, token: null));
        // As a node agent: its endpoint answers only calls a silo of this cluster signed.
        builder.Services.AddControlPlaneOnlyEndpoint(() => Credentials.Ca.Certificate);
        _client = builder.Build();
        await _client.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _client.StopAsync();
        _client.Dispose();
        await ControlPlane.DisposeAsync();
    }

    public string NodeToken(string node) => new NodeTokens(Credentials, TimeProvider.System).Issue(node, TimeSpan.FromHours(1)).Token;
}

[CollectionDefinition(Name)]
public sealed class GrainCallAuthorizationCollection : ICollectionFixture<GrainCallAuthorizationFixture>
{
    public const string Name = "grain call authorization";
}

[Collection(GrainCallAuthorizationCollection.Name)]
public sealed class GrainCallAuthorizationTests(GrainCallAuthorizationFixture f)
{
    private ControlPlaneFixture Cp => f.ControlPlane;

    private IClusterClient Grains => f.Client;

    /// <summary>Runs <paramref name="call"/> with <paramref name="token"/> (none: null) in its RequestContext.</summary>
    private static async Task<T> AsAsync<T>(string? token, Func<Task<T>> call, string? marker = null)
    {
        RequestContext.Clear();
        try
        {
            if (token is not null)
            {
                RequestContext.Set(CallCredentials.TokenKey, token);
            }
            if (marker is not null)
            {
                RequestContext.Set(InternalCallMarker.Key, marker);
            }
            return await call();
        }
        finally
        {
            RequestContext.Clear();
        }
    }

    private static Task AsAsync(string? token, Func<Task> call) => AsAsync<bool>(token, async () =>
    {
        await call();
        return true;
    });

    private static async Task<ApiStatus> RefusedAsync(int code, Func<Task> call)
    {
        var ex = await Assert.ThrowsAsync<ApiException>(call);
        Assert.Equal(code, ex.Status.Code);
        return ex.Status;
    }

    [Fact]
    public async Task ACallWithoutATokenIsRefusedWith401AndChangesNothing()
    {
        var name = $"no-token-{Guid.NewGuid():N}"[..20];
        var ns = new Namespace { Metadata = new ObjectMeta { Name = name } };
        await RefusedAsync(401, () => AsAsync(null, () => Grains.GetGrain<INamespaceGrain>(name).CreateAsync(ns)));
        await RefusedAsync(401, () => AsAsync("not-a-token", () => Grains.GetGrain<INamespaceGrain>(name).CreateAsync(ns)));
        Assert.Null(await Cp.Api.TryGetAsync<Namespace>($"/api/v1/namespaces/{name}"));
    }

    [Fact]
    public async Task AForgedInternalMarkerIsNoCredential()
    {
        var name = $"forged-{Guid.NewGuid():N}"[..20];
        var ns = new Namespace { Metadata = new ObjectMeta { Name = name } };
        await RefusedAsync(401, () => AsAsync<Namespace>(null, () => Grains.GetGrain<INamespaceGrain>(name).CreateAsync(ns), marker: "forged"));
        Assert.Null(await Cp.Api.TryGetAsync<Namespace>($"/api/v1/namespaces/{name}"));
    }

    [Fact]
    public async Task TheAdminTokenMayDoAnything()
    {
        var name = $"admin-{Guid.NewGuid():N}"[..20];
        var created = await AsAsync(f.Credentials.AdminToken, () => Grains.GetGrain<INamespaceGrain>(name).CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = name } }));
        Assert.Equal(name, created.Metadata.Name);
        var listed = await AsAsync(f.Credentials.AdminToken, () => Grains.GetGrain<IResourceIndexGrain<Namespace>>(ResourceTypes.Namespace.Plural).ListAsync(ResourceQuery.All));
        Assert.Contains(listed.Items, n => n.Metadata.Name == name);
    }

    [Fact]
    public async Task AServiceAccountWithViewMayReadButNotCreate()
    {
        var ns = await Cp.NewNamespaceAsync("sa");
        await Cp.Api.CreateAsync($"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings", new RoleBinding
        {
            Metadata = new ObjectMeta { Name = "viewers" },
            RoleRef = new RoleRef { ApiGroup = Rbac.GroupName, Kind = "ClusterRole", Name = "view" },
            Subjects = [new Subject { Kind = "ServiceAccount", Name = "default", Namespace = ns }],
        });
        var sa = await Eventually.Until(() => Cp.Api.TryGetAsync<ServiceAccount>($"/api/v1/namespaces/{ns}/serviceaccounts/default"), "the default ServiceAccount");
        var token = new ServiceAccountTokens(f.Credentials, TimeProvider.System).Issue(sa, null, TimeSpan.FromHours(1)).Token;
        var pods = Grains.GetGrain<IResourceIndexGrain<Pod>>(ResourceTypes.Pod.Plural);
        await Eventually.True(async () =>
        {
            try
            {
                await AsAsync(token, () => pods.ListAsync(ResourceQuery.InNamespace(ns)));
                return true;
            }
            catch (ApiException ex) when (ex.Status.Code == 403)
            {
                return false;
            }
        }, "the binding to take effect");

        var status = await RefusedAsync(403, () => AsAsync(token, () => Grains.GetGrain<IPodGrain>(ResourceTypes.Pod.Key(ns, "sneaky")).CreateAsync(Manifests.Pod("sneaky") with { Metadata = new ObjectMeta { Name = "sneaky", Namespace = ns } })));
        Assert.Equal($"pods \"sneaky\" is forbidden: User \"system:serviceaccount:{ns}:default\" cannot create resource \"pods\" in API group \"\" in the namespace \"{ns}\"", status.Message);
        await RefusedAsync(403, () => AsAsync(token, () => pods.ListAsync(ResourceQuery.InNamespace("default"))));
        Assert.Null(await Cp.Api.TryGetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/sneaky"));
    }

    [Fact]
    public async Task ANodeMayChangeOnlyItsOwnNodeLeaseAndPods()
    {
        var ns = await Cp.NewNamespaceAsync("node");
        string a = $"{ns}-a", b = $"{ns}-b";
        var nodes = await Cp.StartFakeNodesAsync([a, b]);
        try
        {
            var onB = await Cp.Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("on-b") with { Spec = Manifests.Pod("on-b").Spec with { NodeName = b } });
            var onA = await Cp.Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("on-a") with { Spec = Manifests.Pod("on-a").Spec with { NodeName = a } });
            await Eventually.True(async () => (await Cp.Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/on-b")).Status?.Phase == PodPhase.Running, "the pod on b running");
            var tokenA = f.NodeToken(a);
            var nodeB = await Cp.Api.GetAsync<Node>($"/api/v1/nodes/{b}");
            var forgedStatus = new PodStatus { Phase = PodPhase.Failed, Message = "forged by a" };

            // Another node's Node, lease and pods: refused, as Kubernetes words it.
            var status = await RefusedAsync(403, () => AsAsync(tokenA, () => Grains.GetGrain<INodeGrain>(b).UpdateAsync(nodeB with { Metadata = nodeB.Metadata with { Labels = new Dictionary<string, string> { ["owned-by"] = a } } })));
            Assert.StartsWith($"nodes \"{b}\" is forbidden: User \"system:node:{a}\" cannot update resource \"nodes\" in API group \"\" at the cluster scope", status.Message);
            await RefusedAsync(403, () => AsAsync(tokenA, () => Grains.GetGrain<INodeGrain>(b).UpdateStatusAsync(nodeB)));
            await RefusedAsync(403, () => AsAsync(tokenA, () => Grains.GetGrain<INodeLeaseGrain>(b).HeartbeatAsync("forged-boot", null)));
            await RefusedAsync(403, () => AsAsync(tokenA, () => Grains.GetGrain<INodeLeaseGrain>(b).RegisterAsync(new NodeRegistration { Name = b })));
            await RefusedAsync(403, () => AsAsync(tokenA, () => Grains.GetGrain<IPodStatusReportGrain>(onB.Key()).ReportStatusAsync(b, onB.Metadata.Uid!, forgedStatus)));
            var notBound = await RefusedAsync(403, () => AsAsync(tokenA, () => Grains.GetGrain<IPodStatusReportGrain>(onB.Key()).ReportStatusAsync(a, onB.Metadata.Uid!, forgedStatus)));
            Assert.StartsWith($"pods \"on-b\" is forbidden: User \"system:node:{a}\" cannot update resource \"pods/status\"", notBound.Message);
            await RefusedAsync(403, () => AsAsync(tokenA, () => Grains.GetGrain<IPodGrain>(onB.Key()).UpdateStatusAsync(onB with { Status = forgedStatus })));
            await RefusedAsync(403, () => AsAsync(tokenA, () => Grains.GetGrain<IPodStatusReportGrain>(onB.Key()).RequestServiceAccountTokenAsync(a, onB.Metadata.Uid!)));
            await RefusedAsync(403, () => AsAsync(tokenA, () => Grains.GetGrain<IPodGrain>(ResourceTypes.Pod.Key(ns, "planted")).CreateAsync(Manifests.Pod("planted") with { Metadata = new ObjectMeta { Name = "planted", Namespace = ns } })));
            // The node's log endpoint is read by the control plane, not by nodes.
            await RefusedAsync(403, () => AsAsync(tokenA, () => Grains.GetGrain<INodeLeaseGrain>(a).ReadLogAsync(new LogRequest { PodUid = onA.Metadata.Uid!, Container = "on-a" })));
            var after = await Cp.Api.GetAsync<Node>($"/api/v1/nodes/{b}");
            Assert.False(after.Metadata.Labels?.ContainsKey("owned-by") ?? false);
            Assert.NotEqual("forged by a", (await Cp.Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/on-b")).Status?.Message);
            Assert.Null(await Cp.Api.TryGetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/planted"));

            // Its own: allowed.
            var own = await AsAsync(tokenA, () => Grains.GetGrain<INodeGrain>(a).GetAsync());
            Assert.Equal(a, own!.Metadata.Name);
            await AsAsync(tokenA, () => Grains.GetGrain<INodeGrain>(a).UpdateStatusAsync(own));
            await Eventually.True(async () => (await Cp.Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/on-a")).Status?.Phase == PodPhase.Running, "the pod on a running");
            var running = await Cp.Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/on-a");
            var reported = await AsAsync(tokenA, () => Grains.GetGrain<IPodStatusReportGrain>(onA.Key()).ReportStatusAsync(a, onA.Metadata.Uid!, running.Status!));
            Assert.NotNull(reported);
            var podToken = await AsAsync(tokenA, () => Grains.GetGrain<IPodStatusReportGrain>(onA.Key()).RequestServiceAccountTokenAsync(a, onA.Metadata.Uid!));
            Assert.NotNull(podToken);
            var mine = await AsAsync(tokenA, () => Grains.GetGrain<IResourceIndexGrain<Pod>>(ResourceTypes.Pod.Plural).ListAsync(new ResourceQuery { Fields = Selectors.FieldSelector.Parse("spec.nodeName=" + a, ResourceTypes.Pod) }));
            Assert.Equal("on-a", Assert.Single(mine.Items).Metadata.Name);
        }
        finally
        {
            await Cp.StopFakeNodesAsync(nodes);
        }
    }

    [Fact]
    public async Task ANodeCannotCallTheControlPlanesOwnGrains()
    {
        // The scheduler's binding, asked for by a node that would like a pod: refused before it runs.
        var status = await RefusedAsync(403, () => AsAsync(f.NodeToken("x"), () => Grains.GetGrain<Orchestrator.Grains.IPodControlGrain>("default/any").BindAsync("x", "uid")));
        Assert.Equal("forbidden: User \"system:node:x\" cannot call path \"grain:IPodControlGrain.BindAsync\": the control plane's own interface", status.Message);
    }

    [Fact]
    public async Task TheAgentsEndpointAnswersTheControlPlaneOnly()
    {
        var node = $"endpoint-{Guid.NewGuid():N}"[..20];
        var token = f.NodeToken(node);
        // The client holds its observers weakly: the test keeps the object alive to the end.
        var target = new LogEndpoint();
        var endpoint = Grains.CreateObjectReference<INodeAgentEndpoint>(target);
        try
        {
            await AsAsync(token, () => Grains.GetGrain<INodeLeaseGrain>(node).RegisterAsync(new NodeRegistration { Name = node }));
            Assert.True(await AsAsync(token, () => Grains.GetGrain<INodeLeaseGrain>(node).HeartbeatAsync("boot", endpoint)));

            // Through the control plane (here the admin asks the node grain): the silo's proof passes.
            var chunk = await AsAsync(f.Credentials.AdminToken, () => Grains.GetGrain<INodeLeaseGrain>(node).ReadLogAsync(new LogRequest { PodUid = "p", Container = "c" }));
            Assert.Equal("from the agent", chunk.Text);

            // Straight at the endpoint, without a silo's proof: refused by the agent.
            var refused = await Assert.ThrowsAsync<ApiException>(() => AsAsync(token, () => endpoint.ReadLogAsync(new LogRequest { PodUid = "p", Container = "c" })));
            Assert.Equal((403, "the node agent's endpoint accepts calls of the control plane only"), (refused.Status.Code, refused.Status.Message));
        }
        finally
        {
            Grains.DeleteObjectReference<INodeAgentEndpoint>(endpoint);
            GC.KeepAlive(target);
            await Cp.Api.SendAsync(HttpMethod.Delete, $"/api/v1/nodes/{node}");
        }
    }

    private sealed class LogEndpoint : INodeAgentEndpoint
    {
        public Task<LogChunk> ReadLogAsync(LogRequest request) => Task.FromResult(new LogChunk { Text = "from the agent", Found = true });
    }
}
