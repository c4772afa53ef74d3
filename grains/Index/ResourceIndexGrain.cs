using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Resources;
using Orchestrator.Grains.Storage;
using Orchestrator.Model;
using Orleans.Runtime;

namespace Orchestrator.Grains.Index;

/// <summary>What every index grain needs from the silo, in one constructor argument.</summary>
public sealed class IndexServices(IGrainStateCatalog catalog, IOptions<ControlPlaneOptions> options, TimeProvider time, ILoggerFactory loggerFactory)
{
    public IGrainStateCatalog Catalog { get; } = catalog;

    public IOptions<ControlPlaneOptions> Options { get; } = options;

    public TimeProvider Time { get; } = time;

    public ILoggerFactory LoggerFactory { get; } = loggerFactory;
}

/// <summary>
/// One kind's watch cache: every current object (loaded from storage on activation), a
/// monotonic resourceVersion, and a bounded change log that watches resume from. After a
/// restart the log starts empty, so a watch from an older version is told it is too old and
/// re-lists, exactly as a Kubernetes client does after an API server restart.
/// </summary>
public abstract class ResourceIndexGrain<T> : Grain, IResourceIndexGrain<T> where T : class, IResource<T>
{
    /// <summary>Versions are reserved durably in blocks so that a restart never reuses one while
    /// storing the counter costs one write per block, not per change.</summary>
    private const long VersionBlock = 10_000;

    /// <summary>At most this many events go back in one watch response.</summary>
    private const int MaxWatchBatch = 1_000;

    private readonly IPersistentState<IndexState> _state;
    private readonly IGrainStateCatalog _catalog;
    private readonly ControlPlaneOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    private readonly Dictionary<string, T> _objects = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _secondary = new(StringComparer.Ordinal);
    private readonly SortedDictionary<long, Reservation> _pending = [];
    private readonly Dictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
    private ChangeLog<T> _log = null!;
    private long _published;
    private long _reserved;
    private long _floor;
    /// <summary>Watches waiting for a change; each is woken only by a change it matches.</summary>
    private readonly List<Waiter> _waiters = [];

    /// <summary>Completed (and replaced) whenever reserved versions are resolved: lists wait on it.</summary>
    private TaskCompletionSource _drained = NewSignal();

    protected ResourceIndexGrain(IPersistentState<IndexState> state, IndexServices services)
    {
        _state = state;
        _catalog = services.Catalog;
        _options = services.Options.Value;
        _time = services.Time;
        _logger = services.LoggerFactory.CreateLogger(GetType());
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _log = new ChangeLog<T>(_options.WatchLogCapacity);
        long max = 0;
        await foreach (var (_, stored) in _catalog.ReadAllAsync<ResourceState<T>>(T.Type.GrainType, ResourceState<T>.StateName, cancellationToken))
        {
            if (stored?.Object is { } obj)
            {
                Put(obj.Key(), obj);
                max = Math.Max(max, obj.ResourceVersionNumber());
            }
        }
        var start = Math.Max(max, _state.State.ReservedUpTo);
        _published = _reserved = _floor = start;
        _state.State.ReservedUpTo = start + VersionBlock;
        await _state.WriteStateAsync(cancellationToken);
        foreach (var s in _state.State.Subscriptions)
        {
            _subscriptions[s.Id] = new Subscription(s.Query, GrainFactory.GetGrain<IReconciler>(GrainId.Parse(s.Subscriber)));
        }
        var sweep = _options.ReservationTimeout / 2;
        this.RegisterGrainTimer(ExpireReservationsAsync, new GrainTimerCreationOptions(sweep, sweep) { Interleave = false, KeepAlive = true });
        _logger.IndexLoaded(T.Type.Kind, _objects.Count, start);
    }

    /// <summary>Secondary keys an object is filed under, for queries that can use them.
    /// Every object is filed under its namespace and its owners' uids.</summary>
    protected virtual IEnumerable<string> SecondaryKeys(T obj)
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
    }

    /// <summary>The secondary key an equality field selector maps to, if the kind files one.</summary>
    protected virtual string? SecondaryKeyForField(string field, string value) => null;

    public async Task<long> ReserveAsync(string key)
    {
        var version = ++_reserved;
        if (version > _state.State.ReservedUpTo)
        {
            _state.State.ReservedUpTo = version + VersionBlock;
            await _state.WriteStateAsync();
        }
        _pending[version] = new Reservation(key, _time.GetUtcNow());
        return version;
    }

    public Task PublishAsync(long version, WatchEventType type, T obj)
    {
        if (_pending.TryGetValue(version, out var reservation))
        {
            reservation.Change = (type, obj);
            Drain();
            return Task.CompletedTask;
        }
        // A change whose reservation expired (or was made before this index restarted): it is
        // stored, so reflect it, and have the object republish it under a fresh version so that
        // watchers hear about it in order.
        var key = obj.Key();
        var known = _objects.TryGetValue(key, out var cached) ? cached.ResourceVersionNumber() : 0;
        if (version > known)
        {
            if (type == WatchEventType.Deleted)
            {
                Remove(key);
            }
            else
            {
                Put(key, obj);
            }
        }
        return GrainFactory.GetGrain<IResourceGrain<T>>(key).ResyncAsync();
    }

    public Task AbandonAsync(long version)
    {
        if (_pending.TryGetValue(version, out var reservation))
        {
            reservation.Abandoned = true;
            Drain();
        }
        return Task.CompletedTask;
    }

    public Task ForgetAsync(string key)
    {
        if (_objects.TryGetValue(key, out var last))
        {
            var version = ++_reserved;
            _pending[version] = new Reservation(key, _time.GetUtcNow())
            {
                Change = (WatchEventType.Deleted, last.WithMetadata(last.Metadata with { ResourceVersion = version.ToString(System.Globalization.CultureInfo.InvariantCulture) })),
            };
            Drain();
        }
        return Task.CompletedTask;
    }

    public Task<T?> GetAsync(string key) => Task.FromResult(_objects.TryGetValue(key, out var obj) ? obj : null);

    public Task<long?> GetVersionAsync(string key) =>
        Task.FromResult(_objects.TryGetValue(key, out var obj) ? obj.ResourceVersionNumber() : (long?)null);

    /// <summary>
    /// A list includes every change whose version was reserved before the list was asked for:
    /// it waits (interleaved with the writers' publishes) until those are published or resolved.
    /// Without that, a controller could miss an object whose writer stored it and then died before
    /// publishing, and create a second one; with it, such a list waits at most until the dead
    /// writer's reservation expires and the index reads the truth from storage.
    /// </summary>
    public async Task<ResourceList<T>> ListAsync(ResourceQuery query)
    {
        var upTo = _reserved;
        var deadline = _time.GetUtcNow() + _options.ReservationTimeout * 3;
        while (_pending.Count > 0 && _pending.First().Key <= upTo && _time.GetUtcNow() < deadline)
        {
            try
            {
                await _drained.Task.WaitAsync(deadline - _time.GetUtcNow(), _time);
            }
            catch (TimeoutException)
            {
            }
        }
        var items = Candidates(query).Where(query.Matches).OrderBy(o => o.Key(), StringComparer.Ordinal).ToList();
        return new ResourceList<T>(items, _published);
    }

    public async Task<WatchBatch<T>> WatchAsync(ResourceQuery query, long fromVersion, TimeSpan maxWait)
    {
        var deadline = _time.GetUtcNow() + maxWait;
        while (true)
        {
            if (fromVersion < _floor)
            {
                return new WatchBatch<T>([], _published, TooOld: true, OldestVersion: _floor);
            }
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
            var bookmark = events.Count >= MaxWatchBatch ? last : Math.Max(fromVersion, _published);
            var remaining = deadline - _time.GetUtcNow();
            if (events.Count > 0 || remaining <= TimeSpan.Zero)
            {
                return new WatchBatch<T>(events, bookmark, TooOld: false, OldestVersion: _floor);
            }
            fromVersion = bookmark;
            var waiter = new Waiter(query, NewSignal());
            _waiters.Add(waiter);
            try
            {
                await waiter.Signal.Task.WaitAsync(remaining, _time);
            }
            catch (TimeoutException)
            {
            }
            finally
            {
                _waiters.Remove(waiter);
            }
        }
    }

    public async Task SubscribeAsync(string id, ResourceQuery query, IReconciler subscriber)
    {
        var record = new SubscriptionRecord(id, query, subscriber.GetGrainId().ToString());
        var existing = _state.State.Subscriptions.FindIndex(s => s.Id == id);
        if (existing >= 0 && Serialization.ResourceJson.DeepEquals(_state.State.Subscriptions[existing], record))
        {
            return;
        }
        if (existing >= 0)
        {
            _state.State.Subscriptions[existing] = record;
        }
        else
        {
            _state.State.Subscriptions.Add(record);
        }
        _subscriptions[id] = new Subscription(query, subscriber);
        await _state.WriteStateAsync();
    }

    public async Task UnsubscribeAsync(string id)
    {
        if (_subscriptions.Remove(id))
        {
            _state.State.Subscriptions.RemoveAll(s => s.Id == id);
            await _state.WriteStateAsync();
        }
    }

    /// <summary>Applies reserved changes in version order, as far as they are complete.</summary>
    private void Drain()
    {
        List<Change<T>>? applied = null;
        while (_pending.Count > 0)
        {
            var (version, reservation) = _pending.First();
            if (reservation.Change is null && !reservation.Abandoned)
            {
                break;
            }
            _pending.Remove(version);
            _published = version;
            if (reservation.Change is not { } change)
            {
                continue;
            }
            var key = change.Object.Key();
            _objects.TryGetValue(key, out var previous);
            if (change.Type == WatchEventType.Deleted)
            {
                Remove(key);
            }
            else
            {
                Put(key, change.Object);
            }
            var entry = new Change<T>(version, change.Type, change.Object, previous);
            _log.Append(entry);
            (applied ??= []).Add(entry);
        }
        if (_log.OldestVersion is { } oldest && _log.Count >= _options.WatchLogCapacity)
        {
            // The ring dropped older changes: a watch from before the oldest kept one is too old.
            _floor = Math.Max(_floor, oldest - 1);
        }
        var drained = _drained;
        _drained = NewSignal();
        drained.TrySetResult();
        if (applied is null)
        {
            return;
        }
        WakeWaiters(applied);
        NotifySubscribers(applied);
    }

    private void WakeWaiters(List<Change<T>> changes)
    {
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

    private void NotifySubscribers(List<Change<T>> changes)
    {
        if (_subscriptions.Count == 0)
        {
            return;
        }
        HashSet<IReconciler>? poke = null;
        foreach (var (_, sub) in _subscriptions)
        {
            foreach (var c in changes)
            {
                if (sub.Query.Matches(c.Object) || (c.Previous is not null && sub.Query.Matches(c.Previous)))
                {
                    (poke ??= []).Add(sub.Subscriber);
                    break;
                }
            }
        }
        foreach (var s in poke ?? [])
        {
            s.PokeAsync().Ignore();
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
        else if (q.Fields?.Requirements.FirstOrDefault(r => r.Equal && SecondaryKeyForField(r.Field, r.Value) is not null) is { } f)
        {
            secondary = SecondaryKeyForField(f.Field, f.Value);
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

    private void Put(string key, T obj)
    {
        if (_objects.TryGetValue(key, out var old))
        {
            Unfile(key, old);
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

    /// <summary>
    /// A writer that reserved a version and neither published nor abandoned it in time is presumed
    /// dead. Whether it stored its change is in storage: if the stored object carries the reserved
    /// version, publish it (or its removal); otherwise the change never happened.
    /// </summary>
    private async Task ExpireReservationsAsync(CancellationToken cancellationToken)
    {
        var cutoff = _time.GetUtcNow() - _options.ReservationTimeout;
        var expired = _pending.Where(p => p.Value.Change is null && !p.Value.Abandoned && p.Value.ReservedAt < cutoff).ToList();
        foreach (var (version, reservation) in expired)
        {
            _logger.ReservationExpired(T.Type.Kind, version, reservation.Key);
            try
            {
                var stored = (await _catalog.ReadAsync<ResourceState<T>>(T.Type.GrainType, reservation.Key, ResourceState<T>.StateName, cancellationToken))?.Object;
                if (reservation.Change is not null || reservation.Abandoned)
                {
                    // The writer came back while storage was read.
                    continue;
                }
                if (stored is not null && stored.ResourceVersionNumber() == version)
                {
                    reservation.Change = (_objects.ContainsKey(reservation.Key) ? WatchEventType.Modified : WatchEventType.Added, stored);
                }
                else if (stored is null && _objects.TryGetValue(reservation.Key, out var last))
                {
                    reservation.Change = (WatchEventType.Deleted, last.WithMetadata(last.Metadata with { ResourceVersion = version.ToString(System.Globalization.CultureInfo.InvariantCulture) }));
                }
                else
                {
                    reservation.Abandoned = true;
                }
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // Storage cannot say: let the object tell (it republishes what it stored).
                reservation.Abandoned = true;
                GrainFactory.GetGrain<IResourceGrain<T>>(reservation.Key).ResyncAsync().Ignore();
            }
        }
        if (expired.Count > 0)
        {
            Drain();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class Reservation(string key, DateTimeOffset reservedAt)
    {
        public string Key { get; } = key;

        public DateTimeOffset ReservedAt { get; } = reservedAt;

        public (WatchEventType Type, T Object)? Change { get; set; }

        public bool Abandoned { get; set; }
    }

    private sealed record Subscription(ResourceQuery Query, IReconciler Subscriber);

    private sealed record Waiter(ResourceQuery Query, TaskCompletionSource Signal);
}
