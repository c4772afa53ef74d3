using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Agent;

namespace Orchestrator.NodeAgent.Proxy;

/// <summary>What one sync did.</summary>
/// <param name="Full">The kernel's rules were read back and compared (at start, after a failure,
/// and every <see cref="NodeAgentOptions.ProxyFullSyncInterval"/>); otherwise the comparison was
/// with what the last sync wrote.</param>
/// <param name="Written">Lines given to iptables-restore; 0 when nothing differed.</param>
public sealed record ProxySyncResult(DateTimeOffset At, TimeSpan Duration, bool Full, int ServicePorts, int Rules, int Written, TimeSpan RestoreDuration);

/// <summary>
/// The node's service proxy (kube-proxy in iptables mode). It lists and watches Services and
/// Endpoints, and programs the nat table to match, level-triggered: every sync renders the whole
/// desired state from what it holds (<see cref="ServiceRoutes"/>, <see cref="ProxyRules"/>) and
/// writes the chains that differ in one <c>iptables-restore --noflush</c> transaction. A change
/// syncs at once, then at most once per <see cref="NodeAgentOptions.ProxyMinSyncInterval"/>
/// (kube-proxy's minSyncPeriod), so a burst of changes costs one sync; a full sync compares with
/// the kernel (rules someone else removed come back, rules of a previous run that no service owns
/// go). The first sync waits until both kinds have been listed: rendering services before their
/// endpoints are known would remove their rules for a moment. Rules stay when the proxy stops:
/// traffic keeps flowing while an agent restarts, and the new one takes them over.
/// </summary>
public sealed partial class ServiceProxy : IAsyncDisposable
{
    private readonly string _nodeName;
    private readonly NodeAgentOptions _options;
    private readonly IGrainFactory _grains;
    private readonly INatTable _nat;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Service> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Endpoints> _endpoints = new(StringComparer.Ordinal);
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private bool _servicesListed;
    private bool _endpointsListed;
    private NatRules? _applied;

    public ServiceProxy(string nodeName, NodeAgentOptions options, IGrainFactory grains, INatTable nat, TimeProvider time, ILogger logger)
    {
        _nodeName = nodeName;
        _options = options;
        _grains = grains;
        _nat = nat;
        _time = time;
        _logger = logger;
    }

    /// <summary>The last sync that succeeded.</summary>
    public ProxySyncResult? LastSync { get; private set; }

    /// <summary>The rules the table holds as of the last successful sync.</summary>
    internal NatRules? Applied => _applied;

    /// <summary>After every successful sync (for tests and benchmarks).</summary>
    public event Action<ProxySyncResult>? Synced;

    private readonly List<Action> _restartWatches = [];

    /// <summary>Lists services and endpoints afresh now (see <see cref="ResourceWatch{T}.Restart"/>).</summary>
    public void RestartWatches()
    {
        foreach (var restart in _restartWatches)
        {
            restart();
        }
    }

    public void Start()
    {
        CheckBridgeNetfilter();
        var services = new ResourceWatch<Service>(_grains, ResourceQuery.All, _options.ResyncInterval, _time, _logger);
        services.Listed += items => Replace(_services, items, () => _servicesListed = true);
        services.Changed += (type, svc) => Apply(_services, type, svc);
        var endpoints = new ResourceWatch<Endpoints>(_grains, ResourceQuery.All, _options.ResyncInterval, _time, _logger);
        _restartWatches.AddRange([services.Restart, endpoints.Restart]);
        endpoints.Listed += items => Replace(_endpoints, items, () => _endpointsListed = true);
        endpoints.Changed += (type, ep) => Apply(_endpoints, type, ep);
        _loops.Add(Task.Run(() => services.RunAsync(_stop.Token), CancellationToken.None));
        _loops.Add(Task.Run(() => endpoints.RunAsync(_stop.Token), CancellationToken.None));
        _loops.Add(Task.Run(() => SyncLoopAsync(_stop.Token), CancellationToken.None));
    }

    private Task Replace<T>(Dictionary<string, T> map, IReadOnlyList<T> items, Action listed) where T : class, IResource<T>
    {
        lock (_lock)
        {
            map.Clear();
            foreach (var item in items)
            {
                map[item.Key()] = item;
            }
            listed();
        }
        _wake.Writer.TryWrite(true);
        return Task.CompletedTask;
    }

    private Task Apply<T>(Dictionary<string, T> map, WatchEventType type, T obj) where T : class, IResource<T>
    {
        lock (_lock)
        {
            if (type == WatchEventType.Deleted)
            {
                map.Remove(obj.Key());
            }
            else
            {
                map[obj.Key()] = obj;
            }
        }
        _wake.Writer.TryWrite(true);
        return Task.CompletedTask;
    }

    private async Task SyncLoopAsync(CancellationToken token)
    {
        var nextFull = DateTimeOffset.MinValue;
        var lastSync = DateTimeOffset.MinValue;
        var failures = 0;
        while (!token.IsCancellationRequested)
        {
            try
            {
                var wait = nextFull - _time.GetUtcNow();
                if (wait > TimeSpan.Zero || !Listed)
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                    if (Listed)
                    {
                        timeout.CancelAfter(wait);
                    }
                    try
                    {
                        await _wake.Reader.ReadAsync(timeout.Token);
                    }
                    catch (OperationCanceledException) when (!token.IsCancellationRequested)
                    {
                    }
                    if (!Listed)
                    {
                        continue;
                    }
                }
                var since = _time.GetUtcNow() - lastSync;
                if (since < _options.ProxyMinSyncInterval)
                {
                    await Task.Delay(_options.ProxyMinSyncInterval - since, _time, token);
                }
                // Whatever arrived meanwhile is in this sync.
                _wake.Reader.TryRead(out _);
                var full = _applied is null || _time.GetUtcNow() >= nextFull;
                lastSync = _time.GetUtcNow();
                await SyncAsync(full, token);
                failures = 0;
                if (full)
                {
                    nextFull = _time.GetUtcNow() + _options.ProxyFullSyncInterval;
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Read the kernel's state again before the next write: a failed restore changed
                // nothing, but something else may have. Retry with back-off: 1, 2, 4 ... 30 s.
                _applied = null;
                failures++;
                var delay = TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Min(failures - 1, 5))));
                LogSyncFailed(_logger, ex, delay.TotalSeconds);
                nextFull = _time.GetUtcNow() + delay;
            }
        }
    }

    private bool Listed
    {
        get
        {
            lock (_lock)
            {
                return _servicesListed && _endpointsListed;
            }
        }
    }

    private async Task SyncAsync(bool full, CancellationToken token)
    {
        var clock = Stopwatch.StartNew();
        List<Service> services;
        Dictionary<string, Endpoints> endpoints;
        lock (_lock)
        {
            services = [.. _services.Values];
            endpoints = new Dictionary<string, Endpoints>(_endpoints, StringComparer.Ordinal);
        }
        var routes = ServiceRoutes.Build(services, endpoints, _nodeName);
        var desired = ProxyRules.Render(routes);
        var current = full ? ProxyRules.ParseSave(await _nat.SaveAsync(token)) : _applied!;
        var restore = ProxyRules.Restore(desired, current);
        var restoreTime = TimeSpan.Zero;
        var written = 0;
        if (restore is not null)
        {
            var restoreClock = Stopwatch.StartNew();
            await _nat.RestoreAsync(restore, token);
            restoreTime = restoreClock.Elapsed;
            written = restore.Count(c => c == '\n');
        }
        _applied = desired;
        var result = new ProxySyncResult(_time.GetUtcNow(), clock.Elapsed, full, routes.Count, desired.RuleCount, written, restoreTime);
        LastSync = result;
        if (written > 0)
        {
            LogSynced(_logger, full ? "full" : "partial", routes.Count, desired.RuleCount, written, clock.Elapsed.TotalMilliseconds);
        }
        Synced?.Invoke(result);
    }

    /// <summary>Traffic from a pod to a service endpoint on the same bridge returns over the bridge;
    /// only with bridge-nf-call-iptables does it pass the nat table to be un-DNATed (kube-proxy
    /// requires the same).</summary>
    private void CheckBridgeNetfilter()
    {
        const string Path = "/proc/sys/net/bridge/bridge-nf-call-iptables";
        try
        {
            if (File.Exists(Path) && File.ReadAllText(Path).Trim() == "1")
            {
                return;
            }
        }
        catch (IOException)
        {
        }
        LogNoBridgeNetfilter(_logger);
    }

    /// <summary>Stops watching and syncing; the rules stay.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_loops);
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }
}
