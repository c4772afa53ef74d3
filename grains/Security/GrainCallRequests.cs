using System.Collections.Concurrent;
using System.Reflection;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Kinds;
using Orchestrator.Model;
using Orchestrator.NodeProtocol;

namespace Orchestrator.Grains.Security;

/// <summary>How a client's grain call is authorized.</summary>
public enum GrainCallAccess
{
    /// <summary>A resource request (<see cref="GrainCallShape.Verb"/> on a kind) for the authorizer.</summary>
    Resource,

    /// <summary>A node agent's call on a pod it runs: only the node named in the call, and only
    /// as the authorizer allows the request it stands for.</summary>
    NodeReport,

    /// <summary>A node asking for a token of one of its pods' ServiceAccount: only the node the
    /// pod is bound to (the grain checks the pod's uid as well).</summary>
    PodServiceAccountToken,

    /// <summary>Anyone, without a token: Orleans' cluster manifest, which a client reads to
    /// connect (it holds grain type and interface names, nothing of the cluster's objects).</summary>
    Public,

    /// <summary>Any authenticated caller: Orleans' call cancellation.</summary>
    Authenticated,

    /// <summary>Everything else (the control plane's own interfaces, Orleans' system grains):
    /// system:masters only.</summary>
    MastersOnly,
}

/// <summary>What one grain method stands for, worked out once per method.</summary>
public sealed record GrainCallShape(GrainCallAccess Access, string Verb = "", string Subresource = "", ResourceType? Type = null)
{
    /// <summary>The argument whose <see cref="ResourceQuery"/> gives the namespace (index List and Watch), or -1.</summary>
    public int QueryArgument { get; init; } = -1;

    /// <summary>The argument that is the object's key (index Get), or -1: the grain's key is.</summary>
    public int KeyArgument { get; init; } = -1;

    /// <summary>The bool argument that makes a patch a status patch, or -1.</summary>
    public int StatusArgument { get; init; } = -1;

    /// <summary>The argument naming the reporting node (node protocol), or -1.</summary>
    public int NodeArgument { get; init; } = -1;

    /// <summary>"Interface.Method", for the refusal of a call that is no resource request.</summary>
    public string Method { get; init; } = "";
}

/// <summary>
/// Reads a client's grain call as the API request it stands for, so that the authorizer the
/// HTTP API uses decides it: <c>IPodGrain("ns/web").UpdateStatusAsync</c> is "update pods/status
/// web in ns"; an index grain's List and Watch are list and watch in the query's namespace;
/// RollbackTo is "create deployments/rollback". The kind's plural and group come from the
/// <see cref="KindRegistry"/>; the namespace and name from the grain key.
/// </summary>
public static class GrainCallRequests
{
    private static readonly ConcurrentDictionary<MethodInfo, GrainCallShape> Shapes = new();

    public static GrainCallShape ShapeOf(MethodInfo? method) =>
        method is null ? new GrainCallShape(GrainCallAccess.MastersOnly) { Method = "unknown" } : Shapes.GetOrAdd(method, Describe);

    private static GrainCallShape Describe(MethodInfo method)
    {
        var declaring = method.DeclaringType!;
        var name = method.Name;
        var definition = declaring.IsGenericType ? declaring.GetGenericTypeDefinition() : declaring;
        var methodName = $"{declaring.Name}.{name}";
        if (definition == typeof(IResourceGrain<>) && TypeOf(declaring) is { } type)
        {
            return name switch
            {
                nameof(IResourceGrain<Pod>.GetAsync) => new(GrainCallAccess.Resource, "get", "", type),
                nameof(IResourceGrain<Pod>.CreateAsync) => new(GrainCallAccess.Resource, "create", "", type),
                nameof(IResourceGrain<Pod>.UpdateAsync) => new(GrainCallAccess.Resource, "update", "", type),
                nameof(IResourceGrain<Pod>.PatchAsync) => new(GrainCallAccess.Resource, "patch", "", type) { StatusArgument = 2 },
                nameof(IResourceGrain<Pod>.UpdateStatusAsync) => new(GrainCallAccess.Resource, "update", "status", type),
                nameof(IResourceGrain<Pod>.DeleteAsync) => new(GrainCallAccess.Resource, "delete", "", type),
                _ => new(GrainCallAccess.MastersOnly) { Method = methodName },
            };
        }
        if (definition == typeof(IResourceIndexGrain<>) && TypeOf(declaring) is { } indexed)
        {
            return name switch
            {
                nameof(IResourceIndexGrain<Pod>.ListAsync) => new(GrainCallAccess.Resource, "list", "", indexed) { QueryArgument = 0 },
                nameof(IResourceIndexGrain<Pod>.WatchAsync) => new(GrainCallAccess.Resource, "watch", "", indexed) { QueryArgument = 0 },
                nameof(IResourceIndexGrain<Pod>.GetAsync) => new(GrainCallAccess.Resource, "get", "", indexed) { KeyArgument = 0 },
                _ => new(GrainCallAccess.MastersOnly) { Method = methodName },
            };
        }
        return (declaring, name) switch
        {
            (_, nameof(IDeploymentGrain.RollbackToAsync)) when declaring == typeof(IDeploymentGrain) =>
                new(GrainCallAccess.Resource, "create", "rollback", ResourceTypes.Deployment),
            (_, nameof(IEventGrain.RecordAsync)) when declaring == typeof(IEventGrain) =>
                new(GrainCallAccess.Resource, "create", "", ResourceTypes.Event),
            // Registering writes the Node; a heartbeat is the node's lease, part of its status.
            (_, nameof(INodeLeaseGrain.RegisterAsync)) when declaring == typeof(INodeLeaseGrain) =>
                new(GrainCallAccess.Resource, "update", "", ResourceTypes.Node),
            (_, nameof(INodeLeaseGrain.HeartbeatAsync)) when declaring == typeof(INodeLeaseGrain) =>
                new(GrainCallAccess.Resource, "update", "status", ResourceTypes.Node),
            // Reading logs through the node is Kubernetes' nodes/proxy: the control plane's, or RBAC's.
            (_, nameof(INodeLeaseGrain.ReadLogAsync)) when declaring == typeof(INodeLeaseGrain) =>
                new(GrainCallAccess.Resource, "get", "proxy", ResourceTypes.Node),
            (_, nameof(IPodStatusReportGrain.ReportStatusAsync)) when declaring == typeof(IPodStatusReportGrain) =>
                new(GrainCallAccess.NodeReport, "update", "status", ResourceTypes.Pod) { NodeArgument = 0 },
            // The kubelet deletes a pod once it has stopped it; NodeRestriction allows its own.
            (_, nameof(IPodStatusReportGrain.FinishTerminationAsync)) when declaring == typeof(IPodStatusReportGrain) =>
                new(GrainCallAccess.NodeReport, "delete", "", ResourceTypes.Pod) { NodeArgument = 0 },
            (_, nameof(IPodStatusReportGrain.RequestServiceAccountTokenAsync)) when declaring == typeof(IPodStatusReportGrain) =>
                new(GrainCallAccess.PodServiceAccountToken, "create", "token", ResourceTypes.ServiceAccount) { NodeArgument = 0 },
            _ when declaring.FullName == "Orleans.Runtime.IClusterManifestSystemTarget" => new(GrainCallAccess.Public) { Method = methodName },
            _ when declaring.FullName == "Orleans.Runtime.IGrainCallCancellationExtension" => new(GrainCallAccess.Authenticated) { Method = methodName },
            _ => new(GrainCallAccess.MastersOnly) { Method = methodName },
        };
    }

    /// <summary>The request a call of <paramref name="shape"/> stands for. <paramref name="grainKey"/>
    /// is the target grain's key; <paramref name="argument"/> reads the call's arguments.</summary>
    public static RequestAttributes Attributes(GrainCallShape shape, UserInfo user, string grainKey, Func<int, object?> argument)
    {
        if (shape.Type is not { } type)
        {
            return new RequestAttributes { User = user, Verb = "call", Path = "grain:" + shape.Method };
        }
        string ns = "", name = "";
        if (shape.QueryArgument >= 0)
        {
            ns = (argument(shape.QueryArgument) as ResourceQuery)?.Namespace ?? "";
        }
        else
        {
            var key = shape.KeyArgument >= 0 ? argument(shape.KeyArgument) as string ?? "" : grainKey;
            (ns, name) = Split(type, key);
        }
        var subresource = shape.StatusArgument >= 0 && argument(shape.StatusArgument) is true ? "status" : shape.Subresource;
        if (shape.Access == GrainCallAccess.PodServiceAccountToken)
        {
            // The ServiceAccount is the pod's, which the grain knows; the request names the pod's namespace.
            name = "";
        }
        return new RequestAttributes
        {
            User = user,
            Verb = shape.Verb,
            IsResourceRequest = true,
            ApiGroup = type.Group,
            ApiVersion = type.Version,
            Resource = type.Plural,
            Subresource = subresource,
            Namespace = ns,
            Name = name,
        };
    }

    /// <summary>"ns/name" of a namespaced kind, "name" of a cluster-scoped one.</summary>
    public static (string Namespace, string Name) Split(ResourceType type, string key)
    {
        if (!type.Namespaced)
        {
            return ("", key);
        }
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? ("", key) : (key[..slash], key[(slash + 1)..]);
    }

    private static ResourceType? TypeOf(Type resourceInterface) =>
        resourceInterface.GetGenericArguments() is [var model] ? KindRegistry.Find(model)?.Type : null;
}
