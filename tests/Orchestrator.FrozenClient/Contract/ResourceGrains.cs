// FROZEN copy of the contract as of c9924009a65fa0df28f27e2766b04e66b20df1b4 (see README.md). Never edit.
// The type parameter's constraint is "class" only: IResource<T> (defaults, validation) is the
// model's behaviour, not its wire contract. The kinds' own interfaces (INamespaceGrain ...) are
// left out: callers reach an object through IResourceGrain<T>.
using Orleans.Concurrency;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.GrainInterfaces;

/// <summary>
/// One object: its desired state (spec) and observed state (status). Keyed by
/// "namespace/name" (cluster-scoped kinds: "name").
/// Errors are thrown as <see cref="ApiException"/> carrying the Kubernetes Status.
/// </summary>
[Alias("orch.IResourceGrain`1")]
public interface IResourceGrain<T> : IGrainWithStringKey where T : class
{
    [Alias("Get"), AlwaysInterleave]
    Task<T?> GetAsync();

    [Alias("Create")]
    Task<T> CreateAsync(T obj);

    [Alias("Update")]
    Task<T> UpdateAsync(T obj);

    [Alias("Patch")]
    Task<T> PatchAsync(PatchType type, byte[] patch, bool status);

    [Alias("UpdateStatus")]
    Task<T> UpdateStatusAsync(T obj);

    [Alias("Delete")]
    Task<DeleteResult<T>> DeleteAsync(DeleteOptions options);
}

[GenerateSerializer, Immutable, Alias("orch.DeleteResult`1")]
public sealed record DeleteResult<T>([property: Id(0)] T Object, [property: Id(1)] bool Finished);
