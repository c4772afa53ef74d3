using Orleans.Concurrency;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.GrainInterfaces;

/// <summary>
/// One object: its desired state (spec) and observed state (status). Keyed by
/// "namespace/name" (cluster-scoped kinds: "name"); see <see cref="ResourceType.Key"/>.
/// Errors are thrown as <see cref="ApiException"/> carrying the Kubernetes Status.
/// </summary>
[Alias("orch.IResourceGrain`1")]
public interface IResourceGrain<T> : IGrainWithStringKey where T : class, IResource<T>
{
    /// <summary>The stored object, or null when it does not exist. Answered at once, never queued
    /// behind a reconcile pass of the object's controller.</summary>
    [Alias("Get"), AlwaysInterleave]
    Task<T?> GetAsync();

    /// <summary>Creates the object after applying defaults and validation. 409 when it exists.</summary>
    [Alias("Create")]
    Task<T> CreateAsync(T obj);

    /// <summary>Replaces metadata and spec (the stored status is kept). When
    /// <c>metadata.resourceVersion</c> is set it must match the stored one (else 409).</summary>
    [Alias("Update")]
    Task<T> UpdateAsync(T obj);

    /// <summary>Applies a patch to the object as it is now and stores the result (the status only,
    /// with <paramref name="status"/>). Concurrent patches never conflict with each other; one
    /// that sets <c>metadata.resourceVersion</c> must match the stored one (else 409).</summary>
    [Alias("Patch")]
    Task<T> PatchAsync(PatchType type, byte[] patch, bool status);

    /// <summary>Replaces the status only (the stored spec is kept); the write is skipped when the
    /// status is unchanged.</summary>
    [Alias("UpdateStatus")]
    Task<T> UpdateStatusAsync(T obj);

    /// <summary>Deletes the object, gracefully where the kind needs it (a bound pod gets a
    /// deletionTimestamp and disappears once its node has stopped it).</summary>
    [Alias("Delete")]
    Task<DeleteResult<T>> DeleteAsync(DeleteOptions options);

}

/// <summary>The outcome of a delete: <see cref="Object"/> is the object as it was removed, or as it
/// now is while it terminates (<see cref="Finished"/> false).</summary>
[GenerateSerializer, Immutable, Alias("orch.DeleteResult`1")]
public sealed record DeleteResult<T>([property: Id(0)] T Object, [property: Id(1)] bool Finished);

/// <summary>A grain that reconciles when something it owns or watches changes.</summary>
[Alias("orch.IReconciler")]
public interface IReconciler : IAddressable
{
    /// <summary>A hint that something changed: reconcile soon. Several pokes in a row coalesce
    /// into one reconcile, and the reconcile re-reads everything it needs.</summary>
    [Alias("Poke"), OneWay]
    Task PokeAsync();
}

[Alias("orch.INamespaceGrain")]
public interface INamespaceGrain : IResourceGrain<Namespace>, IReconciler;

[Alias("orch.IReplicaSetGrain")]
public interface IReplicaSetGrain : IResourceGrain<ReplicaSet>, IReconciler;

[Alias("orch.IDeploymentGrain")]
public interface IDeploymentGrain : IResourceGrain<Deployment>, IReconciler
{
    /// <summary>Puts the template of an earlier revision back (0: the one before the current),
    /// as a new revision (kubectl rollout undo).</summary>
    [Alias("RollbackTo")]
    Task<Deployment> RollbackToAsync(int revision);
}

[Alias("orch.IServiceGrain")]
public interface IServiceGrain : IResourceGrain<Service>, IReconciler;

[Alias("orch.IEndpointsGrain")]
public interface IEndpointsGrain : IResourceGrain<Endpoints>;

[Alias("orch.IEventGrain")]
public interface IEventGrain : IResourceGrain<Event>
{
    /// <summary>Creates the event, or when it exists bumps its count and last timestamp
    /// (Kubernetes' event aggregation).</summary>
    [Alias("Record"), OneWay]
    Task RecordAsync(Event ev);
}

[Alias("orch.IPodGrain")]
public interface IPodGrain : IResourceGrain<Pod>
{
    /// <summary>Binds the pod to a node (the scheduler's Binding). Fails with 409 when the pod is
    /// already bound, is being deleted, or its uid is not <paramref name="uid"/>.</summary>
    [Alias("Bind")]
    Task<Pod> BindAsync(string nodeName, string uid);

    /// <summary>Records why the pod cannot be scheduled (PodScheduled=False, reason Unschedulable).</summary>
    [Alias("MarkUnschedulable")]
    Task MarkUnschedulableAsync(string uid, string message);

    /// <summary>The node agent's status report. Ignored (returns null) unless the pod is bound to
    /// <paramref name="nodeName"/> with this uid: a node never writes over a pod it no longer owns.</summary>
    [Alias("ReportStatus")]
    Task<Pod?> ReportStatusAsync(string nodeName, string uid, PodStatus status);

    /// <summary>The control plane gives up on a pod whose node was lost (a pod without a
    /// controller; controlled pods are deleted and replaced instead): phase Failed, and the node's
    /// agent, if it comes back, stops it and may no longer report it as running.</summary>
    [Alias("MarkFailed")]
    Task MarkFailedAsync(string uid, string reason, string message);

    /// <summary>The node agent has stopped every container of a terminating pod: remove it.</summary>
    [Alias("FinishTermination")]
    Task FinishTerminationAsync(string nodeName, string uid);
}

[Alias("orch.INodeGrain")]
public interface INodeGrain : IResourceGrain<Node>, IReconciler
{
    /// <summary>Creates or refreshes the node from its agent's report and allocates its pod CIDR.</summary>
    [Alias("Register")]
    Task<Node> RegisterAsync(NodeRegistration registration);

    /// <summary>Renews the node's lease and (re)attaches the agent's endpoint, which the grain
    /// keeps in memory only. Returns false when the node is not registered (it was deleted): the
    /// agent must register again.</summary>
    [Alias("Heartbeat")]
    Task<bool> HeartbeatAsync(string bootId, INodeAgentEndpoint? endpoint);

    /// <summary>Reads a container log through the node's agent; 503 when it is not connected.</summary>
    [Alias("ReadLog")]
    Task<LogChunk> ReadLogAsync(LogRequest request);
}

/// <summary>What a node agent reports about its machine when it starts.</summary>
[GenerateSerializer, Immutable, Alias("orch.NodeRegistration")]
public sealed record NodeRegistration
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public IReadOnlyDictionary<string, string>? Labels { get; init; }
    [Id(2)] public IReadOnlyList<Taint>? Taints { get; init; }
    [Id(3)] public IReadOnlyDictionary<string, Quantity> Capacity { get; init; } = new Dictionary<string, Quantity>();
    [Id(4)] public IReadOnlyDictionary<string, Quantity> Allocatable { get; init; } = new Dictionary<string, Quantity>();
    [Id(5)] public IReadOnlyList<NodeAddress>? Addresses { get; init; }
    [Id(6)] public NodeSystemInfo? NodeInfo { get; init; }
}
