using Orleans.Concurrency;
using Orchestrator.Model;
using Orchestrator.Selectors;

namespace Orchestrator.GrainInterfaces;

/// <summary>
/// The list-and-watch side of one kind (Kubernetes' watch cache), answered by the silo the call
/// reaches from a cache that follows the store's change feed. Writes never pass through here.
/// Keyed by the kind's plural.
/// </summary>
[Alias("orch.IResourceIndexGrain`1")]
public interface IResourceIndexGrain<T> : IGrainWithStringKey where T : class, IResource<T>
{
    /// <summary>The objects matching the query. By default consistent: it includes every write
    /// acknowledged before the call. <paramref name="options"/> pages the list and pins it to a
    /// resourceVersion as Kubernetes does (limit, continue, resourceVersion, resourceVersionMatch).</summary>
    [Alias("List"), AlwaysInterleave]
    Task<ResourceList<T>> ListAsync(ResourceQuery query, ListOptions options);

    /// <summary>The changes after <paramref name="fromVersion"/> that match the query, waiting up
    /// to <paramref name="maxWait"/> for one. <see cref="WatchBatch{T}.TooOld"/> when the feed no
    /// longer reaches back that far (HTTP 410: the client must list again).</summary>
    [Alias("Watch"), AlwaysInterleave]
    Task<WatchBatch<T>> WatchAsync(ResourceQuery query, long fromVersion, TimeSpan maxWait);

    /// <summary>The object as the cache holds it, or null. Grains check other objects here rather
    /// than by calling those objects' grains, so that two grains waiting on each other can never
    /// deadlock.</summary>
    [Alias("Get"), AlwaysInterleave]
    Task<T?> GetAsync(string key);
}

public static class ResourceIndexGrainExtensions
{
    /// <summary>A consistent list of every matching object.</summary>
    public static Task<ResourceList<T>> ListAsync<T>(this IResourceIndexGrain<T> index, ResourceQuery query) where T : class, IResource<T> =>
        index.ListAsync(query, ListOptions.Default);
}

/// <summary>Kubernetes' list options: paging and which resourceVersion the list is of.</summary>
[GenerateSerializer, Immutable, Alias("orch.ListOptions")]
public sealed record ListOptions
{
    /// <summary>At most this many items; 0: all.</summary>
    [Id(0)] public int Limit { get; init; }

    /// <summary>The token of the previous page.</summary>
    [Id(1)] public string? Continue { get; init; }

    /// <summary>Unset: the latest (consistent); "0": whatever the cache holds; a version: at
    /// least that new, or exactly it with <see cref="ResourceVersionMatch"/> "Exact".</summary>
    [Id(2)] public string? ResourceVersion { get; init; }

    /// <summary>"NotOlderThan" or "Exact".</summary>
    [Id(3)] public string? ResourceVersionMatch { get; init; }

    public static ListOptions Default { get; } = new();
}

public enum WatchEventType
{
    Added,
    Modified,
    Deleted,
}

/// <summary>Which objects a list, watch or subscription wants. Null or empty parts match all.</summary>
[GenerateSerializer, Immutable, Alias("orch.ResourceQuery")]
public sealed record ResourceQuery
{
    [Id(0)] public string? Namespace { get; init; }
    [Id(1)] public Selector? Labels { get; init; }
    [Id(2)] public FieldSelector? Fields { get; init; }
    /// <summary>Only objects with an ownerReference to this uid (controllers and garbage collection).</summary>
    [Id(3)] public string? OwnerUid { get; init; }

    public static ResourceQuery All { get; } = new();

    public static ResourceQuery InNamespace(string? ns) => new() { Namespace = ns };

    public bool Matches(IResource obj)
    {
        if (!string.IsNullOrEmpty(Namespace) && obj.Metadata.Namespace != Namespace)
        {
            return false;
        }
        if (OwnerUid is not null && obj.Metadata.OwnerReferences?.Any(o => o.Uid == OwnerUid) != true)
        {
            return false;
        }
        if (Labels is { } l && !l.Matches(obj.Metadata.Labels))
        {
            return false;
        }
        return Fields is not { } f || f.Matches(obj);
    }
}

[GenerateSerializer, Immutable, Alias("orch.ResourceList`1")]
public sealed record ResourceList<T>([property: Id(0)] IReadOnlyList<T> Items, [property: Id(1)] long ResourceVersion)
{
    /// <summary>The token for the next page; null on the last one.</summary>
    [Id(2)] public string? Continue { get; init; }

    /// <summary>How many matching items follow this page, when known.</summary>
    [Id(3)] public long? RemainingItemCount { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.WatchEvent`1")]
public sealed record WatchEvent<T>([property: Id(0)] WatchEventType Type, [property: Id(1)] T Object);

/// <summary>Changes in order; <see cref="ResourceVersion"/> is where the next watch resumes
/// (it moves on even when nothing matched, like a Kubernetes bookmark).</summary>
[GenerateSerializer, Immutable, Alias("orch.WatchBatch`1")]
public sealed record WatchBatch<T>(
    [property: Id(0)] IReadOnlyList<WatchEvent<T>> Events,
    [property: Id(1)] long ResourceVersion,
    [property: Id(2)] bool TooOld,
    [property: Id(3)] long OldestVersion);
