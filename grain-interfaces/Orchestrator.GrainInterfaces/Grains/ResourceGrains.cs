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

    // The same writes with options (dryRun=All). Overloads under their own aliases, so that
    // clients built against the calls above keep working unchanged.

    /// <summary><see cref="CreateAsync(T)"/>, or with <see cref="WriteOptions.DryRun"/> what it
    /// would store (validated, defaulted, admitted) without storing it.</summary>
    [Alias("CreateWithOptions")]
    Task<T> CreateAsync(T obj, WriteOptions options);

    /// <summary><see cref="UpdateAsync(T)"/>, or with <see cref="WriteOptions.DryRun"/> what it
    /// would store without storing it.</summary>
    [Alias("UpdateWithOptions")]
    Task<T> UpdateAsync(T obj, WriteOptions options);

    /// <summary><see cref="PatchAsync(PatchType, byte[], bool)"/>, or with
    /// <see cref="WriteOptions.DryRun"/> what it would store without storing it.</summary>
    [Alias("PatchWithOptions")]
    Task<T> PatchAsync(PatchType type, byte[] patch, bool status, WriteOptions options);

    /// <summary><see cref="UpdateStatusAsync(T)"/>, or with <see cref="WriteOptions.DryRun"/>
    /// what it would store without storing it.</summary>
    [Alias("UpdateStatusWithOptions")]
    Task<T> UpdateStatusAsync(T obj, WriteOptions options);
}

/// <summary>Options of a write (Kubernetes' CreateOptions, UpdateOptions and PatchOptions, as far
/// as we support them). A DELETE carries its own in <see cref="DeleteOptions.DryRun"/>.</summary>
[GenerateSerializer, Immutable, Alias("orch.WriteOptions")]
public sealed record WriteOptions
{
    /// <summary>dryRun=All: the write is validated, defaulted and admitted, and the object that
    /// would result is answered, but nothing is stored and nobody is told.</summary>
    [Id(0)] public bool DryRun { get; init; }

    /// <summary>The one value of Kubernetes' dryRun parameter: every stage that would persist
    /// (there is one, storage) is skipped.</summary>
    public const string All = "All";

    public static WriteOptions Default { get; } = new();

    public static WriteOptions DryRunAll { get; } = new() { DryRun = true };
}

/// <summary>The outcome of a delete: <see cref="Object"/> is the object as it was removed, or as it
/// now is while it terminates (<see cref="Finished"/> false).</summary>
[GenerateSerializer, Immutable, Alias("orch.DeleteResult`1")]
public sealed record DeleteResult<T>([property: Id(0)] T Object, [property: Id(1)] bool Finished);

// Each kind's grain interface carries only what a caller may do to an object of that kind. The
// control plane's own calls (reconcile pokes, binding, node leases, status reports of node agents)
// are on interfaces in grains/ and Orchestrator.NodeProtocol, which the client package does not
// ship: a client that tries to call one does not compile.

[Alias("orch.INamespaceGrain")]
public interface INamespaceGrain : IResourceGrain<Namespace>;

[Alias("orch.IReplicaSetGrain")]
public interface IReplicaSetGrain : IResourceGrain<ReplicaSet>;

[Alias("orch.IDeploymentGrain")]
public interface IDeploymentGrain : IResourceGrain<Deployment>
{
    /// <summary>Puts the template of an earlier revision back (0: the one before the current),
    /// as a new revision (kubectl rollout undo).</summary>
    [Alias("RollbackTo")]
    Task<Deployment> RollbackToAsync(int revision);
}

[Alias("orch.IServiceGrain")]
public interface IServiceGrain : IResourceGrain<Service>;

[Alias("orch.IEndpointsGrain")]
public interface IEndpointsGrain : IResourceGrain<Endpoints>;

[Alias("orch.IServiceAccountGrain")]
public interface IServiceAccountGrain : IResourceGrain<ServiceAccount>;

[Alias("orch.IEventGrain")]
public interface IEventGrain : IResourceGrain<Event>
{
    /// <summary>Creates the event, or when it exists bumps its count and last timestamp
    /// (Kubernetes' event aggregation).</summary>
    [Alias("Record"), OneWay]
    Task RecordAsync(Event ev);
}

/// <summary>A pod. Eviction is a graceful <see cref="IResourceGrain{T}.DeleteAsync"/> with the
/// eviction's delete options, as the API's /eviction subresource does.</summary>
[Alias("orch.IPodGrain")]
public interface IPodGrain : IResourceGrain<Pod>;

[Alias("orch.INodeGrain")]
public interface INodeGrain : IResourceGrain<Node>;

[Alias("orch.IRoleGrain")]
public interface IRoleGrain : IResourceGrain<Role>;

[Alias("orch.IClusterRoleGrain")]
public interface IClusterRoleGrain : IResourceGrain<ClusterRole>;

[Alias("orch.IRoleBindingGrain")]
public interface IRoleBindingGrain : IResourceGrain<RoleBinding>;

[Alias("orch.IClusterRoleBindingGrain")]
public interface IClusterRoleBindingGrain : IResourceGrain<ClusterRoleBinding>;
