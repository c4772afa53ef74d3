using Orchestrator.GrainInterfaces;

namespace Orchestrator.Grains.Store;

/// <summary>
/// Where objects live, and the change feed that list and watch caches follow. The store owns
/// <c>resourceVersion</c>: a write stores the object and appends its change to the feed in one
/// transaction, taking the kind's next version. Versions are gapless per kind and committed in
/// order (the kind's counter row is locked until the commit), so a reader that has applied
/// version v and sees v + 2 knows v + 1 is committed too and only has to fetch it. That is why
/// the counter is a locked row rather than a database sequence: a sequence hands out values that
/// commit out of order and leaves gaps behind rolled-back writes, which a feed reader cannot tell
/// from writes still in flight.
/// </summary>
/// <remarks>
/// Keys are "namespace/name" (cluster-scoped kinds: "name"); kinds are qualified resources
/// ("pods", "deployments.apps"). Payloads are the object's JSON; the version is stored beside
/// it, never inside, so readers set <c>metadata.resourceVersion</c> from <see cref="StoredObject.Version"/>.
/// </remarks>
public interface IObjectStore
{
    /// <summary>Stores an object if the stored one has version <paramref name="expected"/> (0: none
    /// may exist), and appends the change. Returns the new version.</summary>
    /// <exception cref="StoreConflictException">The stored version is not <paramref name="expected"/>.</exception>
    Task<long> PutAsync(string kind, string key, long expected, WatchEventType type, byte[] payload, object? value);

    /// <summary>Removes an object stored with version <paramref name="expected"/> and appends its
    /// deletion, carrying <paramref name="lastPayload"/>. Returns the deletion's version.</summary>
    Task<long> RemoveAsync(string kind, string key, long expected, byte[] lastPayload, object? value);

    Task<StoredObject?> GetAsync(string kind, string key);

    /// <summary>Every stored object of the kind and the version they are current at (one snapshot).</summary>
    Task<StoredList> ListAsync(string kind);

    /// <summary>The kind's latest committed version.</summary>
    Task<long> CurrentVersionAsync(string kind);

    /// <summary>The changes after <paramref name="after"/>, oldest first, at most <paramref name="max"/>;
    /// null when the feed was compacted past <paramref name="after"/> (the reader must list again).</summary>
    Task<IReadOnlyList<StoredChange>?> ChangesAsync(string kind, long after, int max);

    /// <summary>Raised after changes commit: for this process's own writes with the changes (and
    /// the typed objects the writers passed), for other processes' writes with only the kind and
    /// version they reached (followers then read the feed).</summary>
    event Action<CommitNotice>? Committed;
}

public sealed record StoredObject(string Key, long Version, byte[] Payload);

public sealed record StoredList(IReadOnlyList<StoredObject> Items, long Version);

public sealed record StoredChange(long Version, WatchEventType Type, string Key, byte[] Payload)
{
    /// <summary>The typed object the writer stored, when the change was made in this process.</summary>
    public object? Value { get; init; }
}

/// <summary>Changes of one kind committed up to <see cref="Version"/>; <see cref="Changes"/> holds
/// them when they were written here, and is null for news from another process.</summary>
public sealed record CommitNotice(string Kind, long Version, IReadOnlyList<StoredChange>? Changes);

/// <summary>The stored object does not have the version the writer expected.</summary>
public sealed class StoreConflictException(string kind, string key, long expected, long actual)
    : Exception($"{kind} {key}: expected version {expected}, stored {actual}")
{
    public long Expected { get; } = expected;

    /// <summary>The stored version; 0 when no object is stored.</summary>
    public long Actual { get; } = actual;
}
