using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Security;
using Orchestrator.Model;
using Orchestrator.NodeProtocol;
using Orchestrator.Serialization;

namespace Orchestrator.Tests.Security;

/// <summary>A client's grain call read as the API request it stands for.</summary>
public sealed class GrainCallRequestsTests
{
    private static readonly UserInfo User = new() { Name = "jane", Groups = [SystemGroups.Authenticated] };

    /// <summary>The call of <paramref name="method"/> (its shortest overload; the others add
    /// WriteOptions) with <paramref name="args"/>.</summary>
    private static RequestAttributes Read(Type grainInterface, string method, string key, params object?[] args) =>
        Read(grainInterface.GetMethods().Where(m => m.Name == method).MinBy(m => m.GetParameters().Length), key, args);

    private static RequestAttributes Read(System.Reflection.MethodInfo? method, string key, params object?[] args) =>
        GrainCallRequests.Attributes(GrainCallRequests.ShapeOf(method), User, key, i => args[i]);

    [Fact]
    public void ResourceGrainMethodsAreTheirVerbsOnTheKindNamedByTheKey()
    {
        var get = Read(typeof(IResourceGrain<Pod>), nameof(IPodGrain.GetAsync), "ns1/web");
        Assert.Equal(("get", "pods", "", "ns1", "web", ""), (get.Verb, get.Resource, get.ApiGroup, get.Namespace, get.Name, get.Subresource));
        Assert.True(get.IsResourceRequest);
        var update = Read(typeof(IResourceGrain<Deployment>), nameof(IDeploymentGrain.UpdateAsync), "ns1/api");
        Assert.Equal(("update", "deployments", "apps"), (update.Verb, update.Resource, update.ApiGroup));
        // A dry run is the same request (Kubernetes authorizes it as the write it would be).
        var dryRun = Read(typeof(IResourceGrain<Deployment>).GetMethod(nameof(IDeploymentGrain.UpdateAsync), [typeof(Deployment), typeof(WriteOptions)]), "ns1/api");
        Assert.Equal(("update", "deployments", "api"), (dryRun.Verb, dryRun.Resource, dryRun.Name));
        var node = Read(typeof(IResourceGrain<Node>), nameof(INodeGrain.DeleteAsync), "worker-1");
        Assert.Equal(("delete", "nodes", "", "worker-1"), (node.Verb, node.Resource, node.Namespace, node.Name));
    }

    [Fact]
    public void StatusWritesAreTheStatusSubresource()
    {
        Assert.Equal(("update", "status"), Pick(Read(typeof(IResourceGrain<Pod>), nameof(IPodGrain.UpdateStatusAsync), "ns/p", [null])));
        Assert.Equal(("patch", "status"), Pick(Read(typeof(IResourceGrain<Pod>), nameof(IPodGrain.PatchAsync), "ns/p", PatchType.Merge, Array.Empty<byte>(), true)));
        Assert.Equal(("patch", ""), Pick(Read(typeof(IResourceGrain<Pod>), nameof(IPodGrain.PatchAsync), "ns/p", PatchType.Merge, Array.Empty<byte>(), false)));

        static (string, string) Pick(RequestAttributes a) => (a.Verb, a.Subresource);
    }

    [Fact]
    public void RollbackAndEventsAreTheirOwnRequests()
    {
        var rollback = Read(typeof(IDeploymentGrain), nameof(IDeploymentGrain.RollbackToAsync), "ns/api", 0);
        Assert.Equal(("create", "deployments", "rollback", "apps", "api"), (rollback.Verb, rollback.Resource, rollback.Subresource, rollback.ApiGroup, rollback.Name));
        var record = Read(typeof(IEventGrain), nameof(IEventGrain.RecordAsync), "ns/ev1", [null]);
        Assert.Equal(("create", "events", "ns"), (record.Verb, record.Resource, record.Namespace));
    }

    [Fact]
    public void IndexListAndWatchAreInTheQuerysNamespaceAndGetNamesTheObject()
    {
        var list = Read(typeof(IResourceIndexGrain<Service>), nameof(IResourceIndexGrain<Service>.ListAsync), "services", ResourceQuery.InNamespace("ns2"), ListOptions.Default);
        Assert.Equal(("list", "services", "ns2", ""), (list.Verb, list.Resource, list.Namespace, list.Name));
        var all = Read(typeof(IResourceIndexGrain<Pod>), nameof(IResourceIndexGrain<Pod>.WatchAsync), "pods", ResourceQuery.All, 0L, TimeSpan.Zero);
        Assert.Equal(("watch", ""), (all.Verb, all.Namespace));
        var get = Read(typeof(IResourceIndexGrain<Pod>), nameof(IResourceIndexGrain<Pod>.GetAsync), "pods", "ns3/db");
        Assert.Equal(("get", "ns3", "db"), (get.Verb, get.Namespace, get.Name));
    }

    [Fact]
    public void NodeProtocolCallsStandForTheirNodeAndPodRequests()
    {
        var heartbeat = Read(typeof(INodeLeaseGrain), nameof(INodeLeaseGrain.HeartbeatAsync), "worker-1", "boot", null);
        Assert.Equal(("update", "nodes", "status", "worker-1"), (heartbeat.Verb, heartbeat.Resource, heartbeat.Subresource, heartbeat.Name));
        var log = Read(typeof(INodeLeaseGrain), nameof(INodeLeaseGrain.ReadLogAsync), "worker-1", [null]);
        Assert.Equal(("get", "proxy"), (log.Verb, log.Subresource));
        var reportShape = GrainCallRequests.ShapeOf(typeof(IPodStatusReportGrain).GetMethod(nameof(IPodStatusReportGrain.ReportStatusAsync)));
        Assert.Equal((GrainCallAccess.NodeReport, 0), (reportShape.Access, reportShape.NodeArgument));
        var finish = Read(typeof(IPodStatusReportGrain), nameof(IPodStatusReportGrain.FinishTerminationAsync), "ns/p", "worker-1", "uid");
        Assert.Equal(("delete", "pods", "ns", "p"), (finish.Verb, finish.Resource, finish.Namespace, finish.Name));
    }

    [Fact]
    public void AnythingElseIsForMastersAndOrleansManifestIsPublic()
    {
        Assert.Equal(GrainCallAccess.MastersOnly, GrainCallRequests.ShapeOf(typeof(Orchestrator.Grains.IPodControlGrain).GetMethod(nameof(Orchestrator.Grains.IPodControlGrain.BindAsync))).Access);
        Assert.Equal(GrainCallAccess.MastersOnly, GrainCallRequests.ShapeOf(typeof(IManagementGrain).GetMethod(nameof(IManagementGrain.GetHosts), [typeof(bool)])).Access);
        Assert.Equal(GrainCallAccess.MastersOnly, GrainCallRequests.ShapeOf(null).Access);
        var manifest = Type.GetType("Orleans.Runtime.IClusterManifestSystemTarget, Orleans.Core", throwOnError: true)!;
        Assert.Equal(GrainCallAccess.Public, GrainCallRequests.ShapeOf(manifest.GetMethods()[0]).Access);
    }

    [Fact]
    public void TheTimerTickTypeTheFilterTrustsExists()
    {
        // The filter lets Orleans' local timer ticks through by their runtime type; if Orleans
        // renames it, every grain timer would be refused.
        Assert.NotNull(Type.GetType("Orleans.Runtime.GrainTimer+TimerTickInvoker, Orleans.Runtime"));
    }
}
