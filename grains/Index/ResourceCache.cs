using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Store;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.Grains.Index;

/// <summary>
/// One kind's watch cache in this silo, as every Kubernetes API server keeps its own: the
/// current objects, filed by key (sorted, for pages), namespace, owner and node; the kind's
/// applied version; and a bounded log of the changes applied since the cache was built. It
/// follows the store's change feed (this silo's commits arrive at once, other silos' as
/// notices that make it read the feed) and can be rebuilt from storage at any time. Lists are
/// consistent by default: they wait until the cache has applied the store's latest version.
/// Thread-safe; every grain and request of the silo shares it.
/// </summary>
public sealed partial class ResourceCache<T> : IResourceCache where T : class, IResource<T>
{
    /// <summary>At most this many events go back in one watch response.</summary>
    private const int MaxWatchBatch = 1_000;

    /// <summary>How long a list or watch waits for this cache to reach a version it was asked
    /// for before it answers 504, as the API server's "Too large resource version".</summary>
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromSeconds(5);

    private static readonly string Kind = T.Type.QualifiedResource;

    private readonly IObjectStore _store;
    private readonly int _logCapacity;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly Dictionary<string, T> _objects = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _keys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _secondary = new(StringComparer.Ordinal);
    private readonly SortedDictionary<long, StoredChange> _early = [];
    private readonly List<Waiter> _waiters = [];
    private readonly Func<T, IEnumerable<string>> _extraKeys;
    private readonly Func<string, string, string?> _fieldKey;
    private ChangeLog<T> _log;
    private long _version;
    /// <summary>Changes after this version are in <see cref="_log"/>; older ones only in storage.</summary>
    private long _floor;
    /// <summary>The highest version this cache has heard of.</summary>
    private long _known;
    private Task? _loaded;
    private int _pumping;
    private TaskCompletionSource _advanced = NewSignal();

    public ResourceCache(IObjectStore store, int logCapacity, TimeProvider time, ILogger logger, Func<T, IEnumerable<string>>? extraKeys = null, Func<string, string, string?>? fieldKey = null)
    {
        _store = store;
        _logCapacity = logCapacity;
        _time = time;
        _logger = logger;
        _extraKeys = extraKeys ?? (_ => []);
        _fieldKey = fieldKey ?? ((_, _) => null);
        _log = new ChangeLog<T>(logCapacity);
        _store.Committed += OnCommitted;
    }

    public string KindName => Kind;

    /// <summary>The version this cache has applied.</summary>
    public long Version
    {
        get
        {
            lock (_gate)
            {
                return _version;
            }
        }
    }

    public Task LoadAsync()
    {
        lock (_gate)
        {
            return _loaded ??= LoadCoreAsync();
        }
    }

    /// <summary>The object as this cache holds it (no wait for the latest).</summary>
    public async Task<T?> GetAsync(string key)
    {
        await LoadAsync();
        lock (_gate)
        {
            return _objects.GetValueOrDefault(key);
        }
    }

    /// <summary>Waits until this cache has applied every change the store had committed when called.</summary>
    public async Task SyncAsync()
    {
        await LoadAsync();
        await WaitForAsync(await _store.CurrentVersionAsync(Kind));
    }

    /// <summary>A consistent list of every matching object.</summary>
    public Task<ResourceList<T>> ListAsync(ResourceQuery query) => ListAsync(query, ListOptions.Default);

    public async Task<ResourceList<T>> ListAsync(ResourceQuery query, ListOptions options)
    {
        await LoadAsync();
        var token = options.Continue is { Length: > 0 } c ? ContinueToken.Parse(c) : null;
        var limit = options.Limit < 0 ? throw ApiErrors.BadRequest($"limit {options.Limit} must not be negative") : options.Limit;
        long? exact = null;
        var rv = options.ResourceVersion;
        long requested = 0;
        if (!string.IsNullOrEmpty(rv) && !long.TryParse(rv, NumberStyles.None, CultureInfo.InvariantCulture, out requested))
        {
            throw ApiErrors.BadRequest($"resourceVersion \"{rv}\" is not a valid resource version");
        }
        switch (options.ResourceVersionMatch)
        {
            case null or "":
                break;
            case "Exact" or "NotOlderThan" when string.IsNullOrEmpty(rv):
                throw InvalidListOptions("FieldValueForbidden", $"resourceVersionMatch is forbidden unless resourceVersion is provided");
            case "Exact" when token is not null:
                throw InvalidListOptions("FieldValueForbidden", "resourceVersionMatch is forbidden when continue is provided");
            case "Exact" when requested == 0:
                throw InvalidListOptions("FieldValueForbidden", "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"");
            case "Exact":
                exact = requested;
                break;
            case "NotOlderThan":
                break;
            default:
                throw InvalidListOptions("FieldValueNotSupported", $"Unsupported value: \"{options.ResourceVersionMatch}\": supported values: \"Exact\", \"NotOlderThan\"");
        }
        if (token is not null)
        {
            // The token's version may be newer than this silo's cache (issued by another silo).
            exact = token.Version;
            await WaitForAsync(token.Version);
        }
        else if (string.IsNullOrEmpty(rv))
        {
            await WaitForAsync(await _store.CurrentVersionAsync(Kind));
        }
        else if (requested > 0)
        {
            // NotOlderThan and Exact alike need the cache to have reached the version.
            await WaitForAsync(requested);
        }
        lock (_gate)
        {
            if (exact is { } at)
            {
                if (at < _floor)
                {
                    throw token is not null
                        ? ApiErrors.Gone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
                        : ApiErrors.Gone($"too old resource version: {at} ({_floor})");
                }
                return Page(query, limit, token?.Start, at, AsOf(at));
            }
            if (limit == 0)
            {
                var items = Candidates(query).Where(query.Matches).OrderBy(o => o.Key(), StringComparer.Ordinal).ToList();
                return new ResourceList<T>(items, _version);
            }
            return Page(query, limit, null, _version, overlay: null);
        }
    }

    public async Task<WatchBatch<T>> WatchAsync(ResourceQuery query, long fromVersion, TimeSpan maxWait)
    {
        await LoadAsync();
        var deadline = _time.GetUtcNow() + maxWait;
        if (fromVersion > Version)
        {
            // The client has seen a newer version than this silo's cache (it watched through
            // another silo): catch up first so nothing is repeated or missed.
            await WaitForAsync(fromVersion);
        }
        while (true)
        {
            Waiter waiter;
            lock (_gate)
            {
                if (fromVersion >= _floor)
                {
                    var events = new List<WatchEvent<T>>();
                    var last = fromVersion;
                    foreach (var change in _log.After(fromVersion))
                    {
                        last = change.Version;
                        if (ToEvent(change, query) is { } ev)
                        {
                            events.Add(ev);
                            if (events.Count >= MaxWatchBatch)
                            {
                                break;
                            }
                        }
                    }
                    var bookmark = events.Count >= MaxWatchBatch ? last : Math.Max(fromVersion, _version);
                    var remaining = deadline - _time.GetUtcNow();
                    if (events.Count > 0 || remaining <= TimeSpan.Zero)
                    {
                        return new WatchBatch<T>(events, bookmark, TooOld: false, OldestVersion: _floor);
                    }
                    fromVersion = bookmark;
                    waiter = new Waiter(query, NewSignal());
                    _waiters.Add(waiter);
                }
                else
                {
                    waiter = null!;
                }
            }
            if (waiter is null)
            {
                return await BackfillAsync(query, fromVersion);
            }
            try
            {
                var remaining = deadline - _time.GetUtcNow();
                if (remaining > TimeSpan.Zero)
                {
                    await waiter.Signal.Task.WaitAsync(remaining, _time);
                }
            }
            catch (TimeoutException)
            {
            }
            finally
            {
                lock (_gate)
                {
                    _waiters.Remove(waiter);
                }
            }
        }
    }

    /// <summary>Kubernetes answers bad list options as an invalid ListOptions object (422).</summary>
    private static ApiException InvalidListOptions(string reason, string message) => new(new ApiStatus
    {
        Code = 422,
        Reason = StatusReason.Invalid,
        Message = $"ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: {message}",
        Details = new StatusDetails
        {
            Group = "meta.k8s.io",
            Kind = "ListOptions",
            Causes = [new StatusCause { Reason = reason, Field = "resourceVersionMatch", Message = message }],
        },
    });

    /// <summary>A watch from before this cache's log: read the changes from the store's feed.</summary>
    private async Task<WatchBatch<T>> BackfillAsync(ResourceQuery query, long fromVersion)
    {
        var changes = await _store.ChangesAsync(Kind, fromVersion, MaxWatchBatch);
        if (changes is null)
        {
            long floor;
            lock (_gate)
            {
                floor = _floor;
            }
            return new WatchBatch<T>([], Version, TooOld: true, OldestVersion: floor);
        }
        var events = new List<WatchEvent<T>>();
        var last = fromVersion;
        foreach (var stored in changes)
        {
            var obj = Decode(stored);
            last = stored.Version;
            // The object before the change is not in the feed: take a change as Modified when it
            // matches now, so a filtered watch sees what it would have seen, labels aside.
            if (ToEvent(new Change<T>(stored.Version, stored.Type, obj, stored.Type == WatchEventType.Added ? null : obj), query) is { } ev)
            {
                events.Add(ev);
            }
        }
        return new WatchBatch<T>(events, last, TooOld: false, OldestVersion: fromVersion);
    }

    /// <summary>Waits until this cache has applied <paramref name="version"/>; reads the feed if
    /// the notice of it has not come. A version the store has not reached yet (a client's guess)
    /// is waited for until the deadline, then answered 504 as Kubernetes does.</summary>
    private async Task WaitForAsync(long version)
    {
        var deadline = _time.GetUtcNow() + CatchUpTimeout;
        while (true)
        {
            Task advanced;
            lock (_gate)
            {
                if (_version >= version)
                {
                    return;
                }
                advanced = _advanced.Task;
            }
            var committed = await _store.CurrentVersionAsync(Kind);
            lock (_gate)
            {
                _known = Math.Max(_known, Math.Min(version, committed));
            }
            Pump();
            var remaining = deadline - _time.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                throw new ApiException(new ApiStatus
                {
                    Code = 504,
                    Reason = StatusReason.Timeout,
                    Message = $"Too large resource version: {version}, current: {Version}",
                });
            }
            try
            {
                // Woken by the next change applied; a version from the future is looked at again
                // now and then, since nothing else would wake this wait.
                await advanced.WaitAsync(committed >= version ? remaining : TimeSpan.FromMilliseconds(Math.Min(250, remaining.TotalMilliseconds)), _time);
            }
            catch (TimeoutException)
            {
            }
        }
    }

    private async Task LoadCoreAsync()
    {
        var list = await _store.ListAsync(Kind);
        lock (_gate)
        {
            Rebuild(list);
        }
        LogLoaded(_logger, Kind, list.Items.Count, list.Version);
        Pump();
    }

    /// <summary>Replaces everything with a listing; the log starts over from its version.</summary>
    private void Rebuild(StoredList list)
    {
        _objects.Clear();
        _keys.Clear();
        _secondary.Clear();
        foreach (var stored in list.Items)
        {
            Put(stored.Key, WithVersion(ResourceJson.Decode<T>(JsonNodeOf(stored.Payload)), stored.Version));
        }
        _log = new ChangeLog<T>(_logCapacity);
        _version = _floor = list.Version;
        _known = Math.Max(_known, list.Version);
        Drain();
        Wake(all: true);
    }

    private void OnCommitted(CommitNotice notice)
    {
        if (notice.Kind != Kind)
        {
            return;
        }
        bool behind;
        lock (_gate)
        {
            _known = Math.Max(_known, notice.Version);
            foreach (var change in notice.Changes ?? [])
            {
                if (change.Version > _version)
                {
                    _early[change.Version] = change;
                }
            }
            if (_loaded is { IsCompletedSuccessfully: true })
            {
                Drain();
            }
            behind = _loaded is not null && _version < _known;
        }
        if (behind)
        {
            Pump();
        }
    }

    /// <summary>Reads the feed until the cache has applied every version it has heard of. One
    /// pump runs at a time.</summary>
    private void Pump()
    {
        lock (_gate)
        {
            if (_pumping == 1)
            {
                // The running pump reads on until it has reached _known, which callers raise first.
                return;
            }
            _pumping = 1;
        }
        _ = Task.Run(PumpAsync);
    }

    private async Task PumpAsync()
    {
        var failures = 0;
        while (true)
        {
            long after;
            lock (_gate)
            {
                if (_loaded is not { IsCompletedSuccessfully: true } || _version >= _known)
                {
                    _pumping = 0;
                    return;
                }
                after = _version;
            }
            try
            {
                var changes = await _store.ChangesAsync(Kind, after, MaxWatchBatch);
                if (changes is null)
                {
                    // The feed was compacted past this cache: list again. Watches from before
                    // the new floor are told they are too old and re-list, as after a restart.
                    var list = await _store.ListAsync(Kind);
                    lock (_gate)
                    {
                        if (list.Version > _version)
                        {
                            Rebuild(list);
                        }
                    }
                    continue;
                }
                bool stalled;
                lock (_gate)
                {
                    foreach (var change in changes)
                    {
                        if (change.Version > _version)
                        {
                            _early[change.Version] = change;
                        }
                    }
                    Drain();
                    stalled = _version == after;
                }
                failures = 0;
                if (stalled)
                {
                    // The feed has nothing after this version yet (a notice outran its commit's
                    // visibility to this connection): look again shortly rather than spin.
                    await Task.Delay(TimeSpan.FromMilliseconds(20));
                }
            }
            catch (Exception ex)
            {
                LogFeedReadFailed(_logger, ex, Kind);
                failures++;
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 50 << Math.Min(failures, 6))));
            }
        }
    }

    /// <summary>Applies buffered changes in version order, as far as they are contiguous.</summary>
    private void Drain()
    {
        List<Change<T>>? applied = null;
        while (_early.Count > 0)
        {
            var (version, stored) = _early.First();
            if (version <= _version)
            {
                _early.Remove(version);
                continue;
            }
            if (version != _version + 1)
            {
                break;
            }
            _early.Remove(version);
            var obj = stored.Value is T typed ? WithVersion(typed, version) : Decode(stored);
            _objects.TryGetValue(stored.Key, out var previous);
            if (stored.Type == WatchEventType.Deleted)
            {
                Remove(stored.Key);
            }
            else
            {
                Put(stored.Key, obj);
            }
            var entry = new Change<T>(version, stored.Type, obj, previous);
            _log.Append(entry);
            _version = version;
            (applied ??= []).Add(entry);
        }
        if (_log.OldestVersion is { } oldest && _log.Count >= _logCapacity)
        {
            _floor = Math.Max(_floor, oldest - 1);
        }
        if (applied is not null)
        {
            Wake(applied);
        }
    }

    private void Wake(List<Change<T>> changes)
    {
        var advanced = _advanced;
        _advanced = NewSignal();
        advanced.TrySetResult();
        // Only watches that match a change wake up: a thousand node agents each watching their
        // own node's pods do not all stir for every pod change.
        foreach (var w in _waiters)
        {
            foreach (var c in changes)
            {
                if (w.Query.Matches(c.Object) || (c.Previous is not null && w.Query.Matches(c.Previous)))
                {
                    w.Signal.TrySetResult();
                    break;
                }
            }
        }
    }

    private void Wake(bool all)
    {
        var advanced = _advanced;
        _advanced = NewSignal();
        advanced.TrySetResult();
        if (all)
        {
            foreach (var w in _waiters)
            {
                w.Signal.TrySetResult();
            }
        }
    }

    /// <summary>The objects as they were at <paramref name="version"/>, where they differ from now:
    /// each changed key's state before its first change after that version (null: absent).</summary>
    private Dictionary<string, T?> AsOf(long version)
    {
        var overlay = new Dictionary<string, T?>(StringComparer.Ordinal);
        foreach (var change in _log.After(version))
        {
            overlay.TryAdd(change.Object.Key(), change.Previous);
        }
        return overlay;
    }

    /// <summary>One page in key order after <paramref name="start"/>, of the objects as they are
    /// now patched with <paramref name="overlay"/> (the state at <paramref name="version"/>).</summary>
    private ResourceList<T> Page(ResourceQuery query, int limit, string? start, long version, Dictionary<string, T?>? overlay)
    {
        var (low, high) = string.IsNullOrEmpty(query.Namespace) ? ("", "\uffff") : (query.Namespace + "/", query.Namespace + "/\uffff");
        if (start is not null && string.CompareOrdinal(start, low) >= 0)
        {
            low = start;
        }
        var items = new List<T>(limit > 0 ? Math.Min(limit, 1024) : 64);
        string? lastKey = null;
        long remaining = 0;
        var more = false;
        foreach (var (key, obj) in Merge(low, high, start, overlay))
        {
            if (!query.Matches(obj))
            {
                continue;
            }
            if (limit > 0 && items.Count == limit)
            {
                more = true;
                remaining++;
                continue;
            }
            items.Add(obj);
            lastKey = key;
        }
        var unfiltered = query.Labels is not { IsEverything: false } && query.Fields is not { IsEverything: false } && query.OwnerUid is null;
        return new ResourceList<T>(items, version)
        {
            Continue = more ? new ContinueToken(version, lastKey!).Encode() : null,
            RemainingItemCount = more && unfiltered ? remaining : null,
        };
    }

    private IEnumerable<(string Key, T Object)> Merge(string low, string high, string? after, Dictionary<string, T?>? overlay)
    {
        var view = string.CompareOrdinal(low, high) <= 0 ? _keys.GetViewBetween(low, high) : [];
        var extra = overlay?.Where(o => o.Value is not null && string.CompareOrdinal(o.Key, low) >= 0 && string.CompareOrdinal(o.Key, high) <= 0)
            .OrderBy(o => o.Key, StringComparer.Ordinal).ToList() ?? [];
        var i = 0;
        foreach (var key in view)
        {
            if (after is not null && string.CompareOrdinal(key, after) <= 0)
            {
                continue;
            }
            while (i < extra.Count && string.CompareOrdinal(extra[i].Key, key) < 0)
            {
                if (after is null || string.CompareOrdinal(extra[i].Key, after) > 0)
                {
                    yield return (extra[i].Key, extra[i].Value!);
                }
                i++;
            }
            if (overlay is not null && overlay.ContainsKey(key))
            {
                if (i < extra.Count && extra[i].Key == key)
                {
                    yield return (key, extra[i].Value!);
                    i++;
                }
                continue;
            }
            yield return (key, _objects[key]);
        }
        for (; i < extra.Count; i++)
        {
            if (after is null || string.CompareOrdinal(extra[i].Key, after) > 0)
            {
                yield return (extra[i].Key, extra[i].Value!);
            }
        }
    }

    private static WatchEvent<T>? ToEvent(Change<T> c, ResourceQuery q)
    {
        var now = c.Type != WatchEventType.Deleted && q.Matches(c.Object);
        var before = c.Previous is not null && q.Matches(c.Previous);
        return c.Type switch
        {
            WatchEventType.Deleted when before || q.Matches(c.Object) => new WatchEvent<T>(WatchEventType.Deleted, c.Object),
            WatchEventType.Deleted => null,
            _ when now && before => new WatchEvent<T>(WatchEventType.Modified, c.Object),
            _ when now => new WatchEvent<T>(WatchEventType.Added, c.Object),
            _ when before => new WatchEvent<T>(WatchEventType.Deleted, c.Object),
            _ => null,
        };
    }

    private IEnumerable<T> Candidates(ResourceQuery q)
    {
        string? secondary = null;
        if (q.OwnerUid is { } uid)
        {
            secondary = "owner:" + uid;
        }
        else if (q.Fields?.Requirements.FirstOrDefault(r => r.Equal && _fieldKey(r.Field, r.Value) is not null) is { } f)
        {
            secondary = _fieldKey(f.Field, f.Value);
        }
        else if (!string.IsNullOrEmpty(q.Namespace))
        {
            secondary = "ns:" + q.Namespace;
        }
        if (secondary is null)
        {
            return _objects.Values;
        }
        return _secondary.TryGetValue(secondary, out var keys) ? keys.Select(k => _objects[k]) : [];
    }

    private IEnumerable<string> SecondaryKeys(T obj)
    {
        if (obj.Metadata.Namespace is { } ns)
        {
            yield return "ns:" + ns;
        }
        if (obj.Metadata.OwnerReferences is { } owners)
        {
            foreach (var o in owners)
            {
                yield return "owner:" + o.Uid;
            }
        }
        foreach (var k in _extraKeys(obj))
        {
            yield return k;
        }
    }

    private void Put(string key, T obj)
    {
        if (_objects.TryGetValue(key, out var old))
        {
            Unfile(key, old);
        }
        else
        {
            _keys.Add(key);
        }
        _objects[key] = obj;
        foreach (var s in SecondaryKeys(obj))
        {
            if (!_secondary.TryGetValue(s, out var set))
            {
                _secondary[s] = set = new HashSet<string>(StringComparer.Ordinal);
            }
            set.Add(key);
        }
    }

    private void Remove(string key)
    {
        if (_objects.Remove(key, out var old))
        {
            _keys.Remove(key);
            Unfile(key, old);
        }
    }

    private void Unfile(string key, T obj)
    {
        foreach (var s in SecondaryKeys(obj))
        {
            if (_secondary.TryGetValue(s, out var set) && set.Remove(key) && set.Count == 0)
            {
                _secondary.Remove(s);
            }
        }
    }

    private static T Decode(StoredChange change) => WithVersion(ResourceJson.Decode<T>(JsonNodeOf(change.Payload)), change.Version);

    private static System.Text.Json.Nodes.JsonNode JsonNodeOf(byte[] payload) => System.Text.Json.Nodes.JsonNode.Parse(payload)!;

    private static T WithVersion(T obj, long version) =>
        obj.WithMetadata(obj.Metadata with { ResourceVersion = version.ToString(CultureInfo.InvariantCulture) });

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed record Waiter(ResourceQuery Query, TaskCompletionSource Signal);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cache of {Kind} built: {Count} objects at version {Version}")]
    private static partial void LogLoaded(ILogger logger, string kind, int count, long version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the change feed of {Kind} failed; retrying")]
    private static partial void LogFeedReadFailed(ILogger logger, Exception exception, string kind);
}

/// <summary>What every kind's cache shares, for the registry.</summary>
public interface IResourceCache
{
    string KindName { get; }

    Task LoadAsync();
}

/// <summary>Kubernetes' continue token: base64 of the list's version and the last key returned.</summary>
internal sealed record ContinueToken(long Version, string Start)
{
    public string Encode() => Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(new Wire("meta.k8s.io/v1", Version, Start)))
        .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static ContinueToken Parse(string token)
    {
        try
        {
            var s = token.Replace('-', '+').Replace('_', '/');
            s = s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '=');
            var wire = JsonSerializer.Deserialize<Wire>(Convert.FromBase64String(s));
            if (wire is { V: "meta.k8s.io/v1", Rv: > 0, Start: not null })
            {
                return new ContinueToken(wire.Rv, wire.Start);
            }
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
        }
        throw ApiErrors.BadRequest("continue: Invalid value: \"" + token + "\": continue key is not valid: the token is not one this server issued",
            [new StatusCause { Reason = "FieldValueInvalid", Field = "continue", Message = "continue key is not valid" }]);
    }

    private sealed record Wire(
        [property: System.Text.Json.Serialization.JsonPropertyName("v")] string? V,
        [property: System.Text.Json.Serialization.JsonPropertyName("rv")] long Rv,
        [property: System.Text.Json.Serialization.JsonPropertyName("start")] string? Start);
}
