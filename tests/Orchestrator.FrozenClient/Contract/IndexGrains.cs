// FROZEN copy of the contract as of c9924009a65fa0df28f27e2766b04e66b20df1b4 (see README.md). Never edit.
// Without WatchAsync and the watch types, and without ResourceQuery's Labels (1) and Fields (2)
// (the selector types): a newer silo sees them unset.
using Orleans.Concurrency;

namespace Orchestrator.GrainInterfaces;

/// <summary>The list side of one kind. Keyed by the kind's plural ("namespaces").</summary>
[Alias("orch.IResourceIndexGrain`1")]
public interface IResourceIndexGrain<T> : IGrainWithStringKey where T : class
{
    [Alias("List"), AlwaysInterleave]
    Task<ResourceList<T>> ListAsync(ResourceQuery query, ListOptions options);

    [Alias("Get"), AlwaysInterleave]
    Task<T?> GetAsync(string key);
}

/// <summary>Kubernetes' list options: paging and which resourceVersion the list is of.</summary>
[GenerateSerializer, Immutable, Alias("orch.ListOptions")]
public sealed record ListOptions
{
    [Id(0)] public int Limit { get; init; }
    [Id(1)] public string? Continue { get; init; }
    [Id(2)] public string? ResourceVersion { get; init; }
    [Id(3)] public string? ResourceVersionMatch { get; init; }
}

/// <summary>Which objects a list wants. Null or empty parts match all.</summary>
[GenerateSerializer, Immutable, Alias("orch.ResourceQuery")]
public sealed record ResourceQuery
{
    [Id(0)] public string? Namespace { get; init; }
    [Id(3)] public string? OwnerUid { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ResourceList`1")]
public sealed record ResourceList<T>([property: Id(0)] IReadOnlyList<T> Items, [property: Id(1)] long ResourceVersion)
{
    [Id(2)] public string? Continue { get; init; }
    [Id(3)] public long? RemainingItemCount { get; init; }
}
