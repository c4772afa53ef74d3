using Orleans.Concurrency;
using Orchestrator.Model;
using Orchestrator.Selectors;

namespace Orchestrator.GrainInterfaces;

/// <summary>
/// The list-and-watch side of one kind (Kubernetes' watch cache): the current objects, a
/// monotonic resourceVersion and a bounded log of changes. Object grains store a change first
/// and then publish it here, in resourceVersion order. Keyed by the kind's plural.
/// </summary>
[Alias("orch.IResourceIndexGrain`1")]
public interface IResourceIndexGrain<T> : IGrainWithStringKey where T : class, IResource<T>
{
    /// <summary>Hands out the next resourceVersion for a change of <paramref name="key"/> that the
    /// caller is about to store. Publishing is held back for later versions until this one is
    /// published or abandoned, so watchers see changes in order.</summary>
    [Alias("Reserve")]
    Task<long> ReserveAsync(string key);

    /// <summary>Publishes a stored change; <paramref name="obj"/> carries the reserved version.</summary>
    [Alias("Publish")]
    Task PublishAsync(long version, WatchEventType type, T obj);

    /// <summary>The change with this version was not stored.</summary>
    [Alias("Abandon")]
    Task AbandonAsync(long version);

    /// <summary>The object is gone from storage but its removal was never published: drop it and
    /// tell watchers it was deleted.</summary>
    [Alias("Forget")]
    Task ForgetAsync(string key);

    /// <summary>The objects matching the query, including every change reserved before the call
    /// (it waits for changes in flight; interleaved with their publishes).</summary>
    [Alias("List"), AlwaysInterleave]
    Task<ResourceList<T>> ListAsync(ResourceQuery query);

    /// <summary>The changes after <paramref name="fromVersion"/> that match the query, waiting up
    /// to <paramref name="maxWait"/> for one. <see cref="WatchBatch{T}.TooOld"/> when the log no
    /// longer reaches back that far (HTTP 410: the client must list again).</summary>
    [Alias("Watch"), AlwaysInterleave]
    Task<WatchBatch<T>> WatchAsync(ResourceQuery query, long fromVersion, TimeSpan maxWait);

    /// <summary>The object as the index holds it (as of its last published change), or null.
    /// Grains check other objects here rather than by calling those objects' grains, so that two
    /// grains waiting on each other can never deadlock.</summary>
    [Alias("Get")]
    Task<T?> GetAsync(string key);

    /// <summary>The resourceVersion the index holds for one object, or null if it holds none.</summary>
    [Alias("GetVersion")]
    Task<long?> GetVersionAsync(string key);

    /// <summary>Pokes <paramref name="subscriber"/> whenever an object matching
    /// <paramref name="query"/> (before or after the change) changes. Idempotent per id; kept
    /// across index restarts.</summary>
    [Alias("Subscribe")]
    Task SubscribeAsync(string id, ResourceQuery query, IReconciler subscriber);

    [Alias("Unsubscribe")]
    Task UnsubscribeAsync(string id);
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
public sealed record ResourceList<T>([property: Id(0)] IReadOnlyList<T> Items, [property: Id(1)] long ResourceVersion);

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
