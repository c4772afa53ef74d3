using Microsoft.Extensions.Logging;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.Grains.Scheduling;

/// <summary>
/// Binds pending pods to nodes. One activation cluster-wide. It keeps an in-memory picture of
/// the nodes and of what is placed on them, rebuilt from the indexes on activation and every
/// <see cref="ResyncPeriod"/>, and kept current by hints from pods and nodes. Placement is
/// decided in memory for a whole batch ("assumed", as Kubernetes' scheduler cache calls it),
/// then the binds are sent together; a bind that fails is forgotten and the pod retried.
/// </summary>
[GrainType("scheduler")]
public sealed partial class SchedulerGrain(ILogger<SchedulerGrain> logger) : Grain, ISchedulerGrain, IRemindable
{
    /// <summary>The safety net: re-list everything this often, whatever the hints said.</summary>
    private static readonly TimeSpan ResyncPeriod = TimeSpan.FromSeconds(30);

    /// <summary>Pods bound per pass; binds of one pass run concurrently.</summary>
    private const int BatchSize = 1000;

    private readonly Dictionary<string, NodeInfo> _nodes = new(StringComparer.Ordinal);
    /// <summary>Pods counted against a node: bound ones and ones we just assumed.</summary>
    private readonly Dictionary<string, (string Node, PodRequest Request)> _placed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Pod> _queue = new(StringComparer.Ordinal);
    /// <summary>Pods that fit nowhere, with the message last written to them.</summary>
    private readonly Dictionary<string, (Pod Pod, string Message)> _unschedulable = new(StringComparer.Ordinal);
    /// <summary>The nodes in a stable order for the rotating search; rebuilt when nodes come and go.</summary>
    private readonly List<NodeInfo> _nodeOrder = [];
    private bool _nodeOrderStale = true;
    private int _nextStart;
    private IGrainTimer? _passTimer;
    private bool _passScheduled;
    private long _bound;
    private bool _reminderConfirmed;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await RelistAsync();
        this.RegisterGrainTimer(_ => RelistAndRetryAsync(), new GrainTimerCreationOptions(ResyncPeriod, ResyncPeriod) { Interleave = false, KeepAlive = true });
        Kick();
        await EnsureReminderAsync();
    }

    /// <summary>The reminder only brings the scheduler back after its silo died. Registering it
    /// calls the reminder service on the silo that owns the key's range, which may just have died
    /// itself: then the resync timer tries again rather than failing the activation.</summary>
    private async Task EnsureReminderAsync()
    {
        if (_reminderConfirmed)
        {
            return;
        }
        try
        {
            if (await this.GetReminder("resync") is null)
            {
                await this.RegisterOrUpdateReminder("resync", TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
            }
            _reminderConfirmed = true;
        }
        catch (Exception ex) when (ex is SiloUnavailableException or TimeoutException or OrleansException)
        {
            LogReminderUnavailable(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The scheduler's reminder could not be registered yet; retrying with the next resync")]
    private partial void LogReminderUnavailable(Exception ex);

    public Task ReceiveReminder(string reminderName, TickStatus status) => Task.CompletedTask;

    public Task PodChangedAsync(Pod pod)
    {
        var key = pod.Key();
        if (!pod.IsActive())
        {
            Release(key);
            return Task.CompletedTask;
        }
        if (pod.IsScheduled())
        {
            _queue.Remove(key);
            _unschedulable.Remove(key);
            Place(key, pod.Spec.NodeName!, PodRequest.Of(pod));
            return Task.CompletedTask;
        }
        if (!_placed.ContainsKey(key))
        {
            _queue[key] = pod;
            _unschedulable.Remove(key);
            Kick();
        }
        return Task.CompletedTask;
    }

    public Task PodReleasedAsync(string podKey)
    {
        Release(podKey);
        return Task.CompletedTask;
    }

    public Task NodeChangedAsync(string nodeName, Node? node)
    {
        if (node is null || node.Metadata.IsDeleting)
        {
            _nodes.Remove(nodeName);
            _nodeOrderStale = true;
        }
        else if (_nodes.TryGetValue(nodeName, out var info))
        {
            info.Node = node;
        }
        else
        {
            _nodes[nodeName] = new NodeInfo(node);
            _nodeOrderStale = true;
            // Pods counted against this node before we knew it (bound while it was unknown).
            foreach (var (_, p) in _placed.Where(p => p.Value.Node == nodeName))
            {
                _nodes[nodeName].Add(p.Request, +1);
            }
        }
        RetryUnschedulable();
        return Task.CompletedTask;
    }

    public Task<SchedulerStats> GetStatsAsync() => Task.FromResult(new SchedulerStats
    {
        Bound = _bound,
        Pending = _queue.Count,
        Unschedulable = _unschedulable.Count,
        Nodes = _nodes.Count,
    });

    private void RefreshNodeOrder()
    {
        if (!_nodeOrderStale)
        {
            return;
        }
        _nodeOrder.Clear();
        _nodeOrder.AddRange(_nodes.Values.OrderBy(n => n.Node.Metadata.Name, StringComparer.Ordinal));
        _nodeOrderStale = false;
    }

    private void Release(string key)
    {
        _queue.Remove(key);
        _unschedulable.Remove(key);
        if (_placed.Remove(key, out var placed))
        {
            if (_nodes.TryGetValue(placed.Node, out var info))
            {
                info.Add(placed.Request, -1);
            }
            // Room was freed: pods that did not fit may fit now.
            RetryUnschedulable();
        }
    }

    private void Place(string key, string nodeName, PodRequest request)
    {
        if (_placed.ContainsKey(key))
        {
            return;
        }
        _placed[key] = (nodeName, request);
        if (_nodes.TryGetValue(nodeName, out var info))
        {
            info.Add(request, +1);
        }
    }

    private void RetryUnschedulable()
    {
        if (_unschedulable.Count == 0)
        {
            return;
        }
        foreach (var (key, (pod, _)) in _unschedulable)
        {
            _queue.TryAdd(key, pod);
        }
        Kick();
    }

    private void Kick()
    {
        if (_passScheduled || _queue.Count == 0)
        {
            return;
        }
        _passScheduled = true;
        if (_passTimer is null)
        {
            _passTimer = this.RegisterGrainTimer(_ => PassAsync(), new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan) { Interleave = false, KeepAlive = true });
        }
        else
        {
            _passTimer.Change(TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>One scheduling pass over up to <see cref="BatchSize"/> queued pods.</summary>
    private async Task PassAsync()
    {
        _passScheduled = false;
        try
        {
            var batch = _queue.Take(BatchSize).ToList();
            var binds = new List<Task>(batch.Count);
            var failures = new List<Task>();
            foreach (var (key, pod) in batch)
            {
                _queue.Remove(key);
                var request = PodRequest.Of(pod);
                var decision = Decide(pod, request);
                if (decision.Node is { } node)
                {
                    Place(key, node, request);
                    binds.Add(BindAsync(key, pod, node));
                }
                else
                {
                    var previous = _unschedulable.TryGetValue(key, out var u) ? u.Message : null;
                    _unschedulable[key] = (pod, decision.Message!);
                    if (previous != decision.Message)
                    {
                        failures.Add(GrainFactory.GetGrain<IPodControlGrain>(key).MarkUnschedulableAsync(pod.Metadata.Uid!, decision.Message!));
                    }
                }
            }
            await Task.WhenAll(binds);
            await IgnoreFailuresAsync(failures);
        }
        catch (Exception ex)
        {
            logger.SchedulingFailed(ex);
        }
        Kick();
    }

    private async Task BindAsync(string key, Pod pod, string node)
    {
        try
        {
            await GrainFactory.GetGrain<IPodControlGrain>(key).BindAsync(node, pod.Metadata.Uid!);
            _bound++;
        }
        catch (ApiException ex) when (ex.Code != 503)
        {
            // Deleted, replaced or bound elsewhere meanwhile: forget the assumption; a pod that
            // still needs a node comes back through a hint or the next re-list.
            ForgetAssumption(key, node);
        }
        catch (Exception)
        {
            // The pod's silo is unreachable right now, or the pod's write met a lost silo or the
            // store down (503): forget and retry the pod.
            ForgetAssumption(key, node);
            _queue.TryAdd(key, pod);
        }
    }

    private void ForgetAssumption(string key, string node)
    {
        if (_placed.TryGetValue(key, out var p) && p.Node == node)
        {
            _placed.Remove(key);
            if (_nodes.TryGetValue(node, out var info))
            {
                info.Add(p.Request, -1);
            }
        }
    }

    private static async Task IgnoreFailuresAsync(List<Task> tasks)
    {
        try
        {
            await Task.WhenAll(tasks);
        }
        catch (Exception)
        {
            // Status messages are hints for users; the pod stays queued as unschedulable anyway.
        }
    }

    private async Task RelistAndRetryAsync()
    {
        await EnsureReminderAsync();
        await RelistAsync();
        RetryUnschedulable();
        Kick();
    }

    /// <summary>Rebuilds the picture from the indexes (level-triggered: hints may have been lost).</summary>
    private async Task RelistAsync()
    {
        var nodes = await GrainFactory.GetGrain<IResourceIndexGrain<Node>>(ResourceTypes.Node.Plural).ListAsync(ResourceQuery.All);
        var pods = await GrainFactory.GetGrain<IResourceIndexGrain<Pod>>(ResourceTypes.Pod.Plural).ListAsync(ResourceQuery.All);
        _nodes.Clear();
        foreach (var n in nodes.Items.Where(n => !n.Metadata.IsDeleting))
        {
            _nodes[n.Metadata.Name!] = new NodeInfo(n);
        }
        _nodeOrderStale = true;
        _placed.Clear();
        foreach (var pod in pods.Items.Where(p => p.IsActive()))
        {
            var key = pod.Key();
            if (pod.IsScheduled())
            {
                _queue.Remove(key);
                _unschedulable.Remove(key);
                Place(key, pod.Spec.NodeName!, PodRequest.Of(pod));
            }
            else if (!_unschedulable.ContainsKey(key))
            {
                _queue[key] = pod;
            }
        }
        // Forget queued pods that no longer exist.
        var live = pods.Items.Where(p => p.IsActive() && !p.IsScheduled()).Select(p => p.Key()).ToHashSet();
        foreach (var key in _queue.Keys.Where(k => !live.Contains(k)).ToList())
        {
            _queue.Remove(key);
        }
        foreach (var key in _unschedulable.Keys.Where(k => !live.Contains(k)).ToList())
        {
            _unschedulable.Remove(key);
        }
    }

}
