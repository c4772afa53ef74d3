using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Orchestrator.Calls;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.Selectors;
using Orchestrator.NodeProtocol;
using Polly;
using Polly.Retry;

namespace Orchestrator.NodeAgent.Agent;

/// <summary>
/// One node's agent (the kubelet): registers the node, renews its lease, runs a pod worker per
/// pod bound to it, notices container exits (Kubernetes' PLEG, by re-listing the runtime), and
/// removes containers and sandboxes that belong to no pod bound here, such as those left from
/// before a restart of the agent.
/// </summary>
public sealed partial class NodeAgent : IAsyncDisposable
{
    private readonly NodeContext _node;
    private readonly ConcurrentDictionary<string, PodWorker> _workers = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly string _bootId = Guid.NewGuid().ToString();
    private readonly AgentEndpoint _endpoint;
    private INodeAgentEndpoint? _endpointReference;
    private Dictionary<string, string> _lastContainerStates = [];
    private bool _listedOnce;

    public NodeAgent(string nodeName, NodeAgentOptions options, IGrainFactory grains, IContainerRuntime runtime, TimeProvider time, ILogger logger, HttpClient probeClient)
    {
        _node = new NodeContext(nodeName, options, grains, runtime, time, logger, probeClient, w => _workers.TryRemove(w.Uid, out _));
        _endpoint = new AgentEndpoint(runtime);
    }

    public string NodeName => _node.NodeName;

    public IContainerRuntime Runtime => _node.Runtime;

    /// <summary>Pods this agent currently runs a worker for.</summary>
    public int PodCount => _workers.Count;

    public INodeLeaseGrain NodeGrain => _node.Grains.GetGrain<INodeLeaseGrain>(NodeName);

    /// <summary>Raised when the agent is back in contact with the control plane after losing it
    /// (and has fenced its pods): a watch that may have been stranded on a dead silo should list
    /// again rather than wait for its call to time out.</summary>
    public event Action? ContactRestored;

    /// <summary>Fences (see <see cref="FenceAsync"/>), registers the node and starts the heartbeat
    /// and container-watch loops, retrying until the control plane answers: an agent that starts
    /// during a silo failover, or before any silo, waits for it rather than exiting. Pods arrive
    /// through <see cref="OnPodChangedAsync"/> and <see cref="OnPodsListedAsync"/>.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await RegistrationRetry().ExecuteAsync(async token => await ReconnectAsync(register: true, token), cancellationToken);
        _loops.Add(Task.Run(() => HeartbeatLoopAsync(_stop.Token), CancellationToken.None));
        _loops.Add(Task.Run(() => RelistLoopAsync(_stop.Token), CancellationToken.None));
    }

    /// <summary>Until the control plane answers or the agent stops, on the agent's clock: capped
    /// exponential back-off, 0.5 s, 1, 2, 4, then 5 s between attempts.</summary>
    private ResiliencePipeline RegistrationRetry() => new ResiliencePipelineBuilder { TimeProvider = _node.Time }
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is not null
                && !args.Context.CancellationToken.IsCancellationRequested && !_stop.IsCancellationRequested),
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            Delay = TimeSpan.FromMilliseconds(500),
            MaxDelay = TimeSpan.FromSeconds(5),
            UseJitter = false,
            OnRetry = args =>
            {
                LogRegisterFailed(_node.Logger, args.Outcome.Exception!, NodeName, args.RetryDelay);
                return ValueTask.CompletedTask;
            },
        })
        .Build();

    /// <summary>What the agent does first whenever it (re)gains contact: fence, then register or
    /// renew the lease, then let pod workers report again.</summary>
    private async Task ReconnectAsync(bool register, CancellationToken cancellationToken)
    {
        await FenceAsync(cancellationToken);
        if (register)
        {
            await RegisterAsync(cancellationToken);
        }
        else if (!await HeartbeatOnceAsync(cancellationToken))
        {
            // The node object was deleted meanwhile (its pods with it): register again.
            await RegisterAsync(cancellationToken);
        }
        _node.ReportsPaused = false;
        foreach (var worker in _workers.Values)
        {
            worker.ResumeReports();
        }
    }

    private async Task RegisterAsync(CancellationToken cancellationToken)
    {
        var registration = NodeIdentity.Describe(NodeName, _node.Options, _node.Runtime.Version);
        Task<Node> call;
        using (CallDeadline.Within(_node.Options.CallTimeout))
        {
            call = NodeGrain.RegisterAsync(registration);
        }
        var node = await call.WaitAsync(_node.Options.CallTimeout, _node.Time, cancellationToken);
        _node.HostIP = node.Status?.Addresses?.FirstOrDefault(a => a.Type == "InternalIP")?.Address;
        if (_node.Runtime is IUsesPodCidr network)
        {
            await network.ConfigurePodCidrAsync(node.Spec.PodCIDR, cancellationToken);
        }
        _endpointReference ??= _node.Grains.CreateObjectReference<INodeAgentEndpoint>(_endpoint);
        if (!await HeartbeatOnceAsync(cancellationToken))
        {
            throw new InvalidOperationException($"node {NodeName} was deleted right after it registered");
        }
        LogRegistered(_node.Logger, NodeName, node.Spec.PodCIDR ?? "none");
    }

    /// <summary>One lease renewal, given up after <see cref="NodeAgentOptions.HeartbeatTimeout"/>.
    /// A call given up on may still arrive later; that only renews the lease once more.</summary>
    private async Task<bool> HeartbeatOnceAsync(CancellationToken cancellationToken)
    {
        Task<bool> call;
        // Not retried past the timeout either: a heartbeat that arrived late, after a network cut
        // healed, would turn the node Ready before the agent fenced.
        using (CallDeadline.Within(_node.Options.HeartbeatTimeout))
        {
            call = NodeGrain.HeartbeatAsync(_bootId, _endpointReference);
        }
        try
        {
            return await call.WaitAsync(_node.Options.HeartbeatTimeout, _node.Time, cancellationToken);
        }
        catch (Exception) when (!call.IsCompleted)
        {
            // Observe the abandoned call's outcome so that its failure is not reported as unobserved.
            _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }
    }

    /// <summary>
    /// Fencing: before an agent that was out of contact (or is starting) renews its lease or
    /// reports any pod status, it lists the pods the control plane binds to this node and acts on
    /// that truth. Meanwhile the control plane may have declared the node lost: evicted pods were
    /// deleted and replaced on other nodes, bare pods marked Failed. Their containers are stopped
    /// here and now, so that a replica never runs in two places for longer than its grace period
    /// after the node is back, and the node only turns Ready again once they are. Pods that are
    /// still this node's keep running (Kubernetes keeps pods through a control plane outage) and
    /// report again afterwards.
    /// </summary>
    private async Task FenceAsync(CancellationToken cancellationToken)
    {
        Task<ResourceList<Pod>> listing;
        using (CallDeadline.Within(_node.Options.CallTimeout))
        {
            listing = _node.Grains.GetGrain<IResourceIndexGrain<Pod>>(ResourceTypes.Pod.Plural)
                .ListAsync(new ResourceQuery { Fields = FieldSelector.Parse("spec.nodeName=" + NodeName, ResourceTypes.Pod) });
        }
        var list = await listing.WaitAsync(_node.Options.CallTimeout, _node.Time, cancellationToken);
        var listed = list.Items.Where(p => p.Spec.NodeName == NodeName).ToDictionary(p => p.Metadata.Uid!, StringComparer.Ordinal);

        // Workers learn the truth first (a deleting pod's worker stops it and finishes its
        // deletion; a failed one's stops its containers), and workers of pods that are gone
        // retire. A worker whose pod is newer than the list (bound since) is left alone.
        var stops = new List<Task>();
        foreach (var (uid, worker) in _workers)
        {
            if (listed.TryGetValue(uid, out var pod))
            {
                worker.Update(pod);
            }
            else if (worker.ResourceVersion <= list.ResourceVersion && _workers.TryRemove(uid, out _))
            {
                stops.Add(RetireAsync(worker));
            }
        }

        // Every running container of a pod that is not an active pod of this node stops now.
        var running = (await _node.Runtime.ListContainersAsync(cancellationToken))
            .Where(c => c.State == ContainerRunState.Running)
            .Where(c => !(listed.TryGetValue(c.PodUid, out var p) && p.IsActive()))
            .Where(c => !(_workers.TryGetValue(c.PodUid, out var w) && w.ResourceVersion > list.ResourceVersion))
            .ToList();
        foreach (var c in running)
        {
            var grace = listed.TryGetValue(c.PodUid, out var p)
                ? p.Metadata.DeletionGracePeriodSeconds ?? p.Spec.TerminationGracePeriodSeconds ?? Defaults.TerminationGracePeriodSeconds
                : Defaults.TerminationGracePeriodSeconds;
            stops.Add(_node.Runtime.StopContainerAsync(c.Id, TimeSpan.FromSeconds(grace), cancellationToken));
        }
        await Task.WhenAll(stops);
        if (running.Count > 0)
        {
            LogFenced(_node.Logger, NodeName, running.Count, string.Join(", ", running.Select(c => c.PodKey).Distinct()));
        }
    }

    /// <summary>A watch event for a pod bound to this node.</summary>
    public Task OnPodChangedAsync(WatchEventType type, Pod pod)
    {
        if (pod.Spec.NodeName != NodeName)
        {
            // It moved away (or was never ours): its worker, if any, stops it.
            if (_workers.TryGetValue(pod.Metadata.Uid!, out var stale) && type == WatchEventType.Deleted)
            {
                _ = RetireAsync(stale);
            }
            return Task.CompletedTask;
        }
        if (type == WatchEventType.Deleted)
        {
            // Removed from the API (finished by us, or force-deleted): make sure nothing is left,
            // in the background: with real containers a stop can take the whole grace period, and
            // the watch must not wait for it pod after pod.
            var grace = TimeSpan.FromSeconds(pod.Metadata.DeletionGracePeriodSeconds ?? pod.Spec.TerminationGracePeriodSeconds ?? Defaults.TerminationGracePeriodSeconds);
            _ = _workers.TryRemove(pod.Metadata.Uid!, out var worker)
                ? RetireAsync(worker, grace)
                : CleanUpInBackgroundAsync(pod.Metadata.Uid!, grace);
            return Task.CompletedTask;
        }
        _workers.AddOrUpdate(pod.Metadata.Uid!, _ => new PodWorker(_node, pod), (_, w) =>
        {
            w.Update(pod);
            return w;
        });
        return Task.CompletedTask;
    }

    /// <summary>A full list of the pods bound to this node: start what is missing, and remove
    /// what runs here but belongs to no listed pod.</summary>
    public async Task OnPodsListedAsync(IReadOnlyList<Pod> pods)
    {
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pod in pods.Where(p => p.Spec.NodeName == NodeName))
        {
            listed.Add(pod.Metadata.Uid!);
            await OnPodChangedAsync(WatchEventType.Modified, pod);
        }
        foreach (var (uid, worker) in _workers)
        {
            if (!listed.Contains(uid) && _workers.TryRemove(uid, out _))
            {
                await RetireAsync(worker);
            }
        }
        var token = _stop.Token;
        var orphans = (await _node.Runtime.ListContainersAsync(token)).Select(c => c.PodUid)
            .Concat((await _node.Runtime.ListSandboxesAsync(token)).Select(s => s.PodUid)).Distinct()
            .Where(uid => !listed.Contains(uid) && !_workers.ContainsKey(uid))
            .ToList();
        foreach (var uid in orphans)
        {
            LogOrphan(_node.Logger, uid);
        }
        // In parallel: each may wait out a grace period.
        await Task.WhenAll(orphans.Select(uid => CleanUpPodAsync(uid, TimeSpan.FromSeconds(Defaults.TerminationGracePeriodSeconds))));
        _listedOnce = true;
    }

    private async Task RetireAsync(PodWorker worker, TimeSpan? grace = null)
    {
        await worker.DisposeAsync();
        await CleanUpInBackgroundAsync(worker.Uid, grace ?? TimeSpan.FromSeconds(worker.Pod.Spec.TerminationGracePeriodSeconds ?? Defaults.TerminationGracePeriodSeconds));
    }

    /// <summary>A clean-up nobody awaits: its failure is logged (the next resync retries it).</summary>
    private async Task CleanUpInBackgroundAsync(string uid, TimeSpan grace)
    {
        try
        {
            await CleanUpPodAsync(uid, grace);
        }
        catch (Exception ex) when (!_stop.IsCancellationRequested)
        {
            LogCleanUpFailed(_node.Logger, ex, uid);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops and removes everything of a pod that is no longer ours.</summary>
    private async Task CleanUpPodAsync(string uid, TimeSpan grace)
    {
        var token = _stop.Token;
        var containers = (await _node.Runtime.ListContainersAsync(token)).Where(c => c.PodUid == uid).ToList();
        await Task.WhenAll(containers.Where(c => c.State == ContainerRunState.Running)
            .Select(c => _node.Runtime.StopContainerAsync(c.Id, grace, token)));
        foreach (var c in containers)
        {
            await _node.Runtime.RemoveContainerAsync(c.Id, token);
        }
        await _node.Runtime.RemoveSandboxAsync(uid, token);
    }

    /// <summary>Renews the lease every <see cref="NodeAgentOptions.HeartbeatInterval"/>. A failed
    /// or timed-out heartbeat means contact may be lost: pod status reports pause at once, and the
    /// next round that reaches the control plane fences first (<see cref="ReconnectAsync"/>).</summary>
    private async Task HeartbeatLoopAsync(CancellationToken token)
    {
        var lostContact = false;
        while (!token.IsCancellationRequested)
        {
            var began = _node.Time.GetTimestamp();
            try
            {
                if (lostContact)
                {
                    await ReconnectAsync(register: false, token);
                    lostContact = false;
                    LogContactRestored(_node.Logger, NodeName);
                    ContactRestored?.Invoke();
                }
                else if (!await HeartbeatOnceAsync(token))
                {
                    // The node object was deleted: fence (its pods were deleted with it), then register.
                    _node.ReportsPaused = true;
                    await ReconnectAsync(register: true, token);
                }
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                // Pods keep running while the control plane is unreachable (Kubernetes' behaviour);
                // only their status reports wait.
                if (!lostContact)
                {
                    lostContact = true;
                    _node.ReportsPaused = true;
                }
                LogHeartbeatFailed(_node.Logger, ex);
            }
            try
            {
                var wait = _node.Options.HeartbeatInterval - _node.Time.GetElapsedTime(began);
                await Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, _node.Time, token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Re-lists the runtime's containers and wakes the workers of pods whose containers
    /// changed state (an exit, say).</summary>
    private async Task RelistLoopAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            try
            {
                var states = (await _node.Runtime.ListContainersAsync(token))
                    .ToDictionary(c => c.Id, c => $"{c.PodUid}|{c.State}");
                foreach (var (id, state) in states)
                {
                    if (!_lastContainerStates.TryGetValue(id, out var before) || before != state)
                    {
                        var uid = state[..state.IndexOf('|')];
                        if (_workers.TryGetValue(uid, out var w))
                        {
                            w.Kick();
                        }
                    }
                }
                _lastContainerStates = states;
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                LogRelistFailed(_node.Logger, ex);
            }
            try
            {
                await Task.Delay(_node.Options.RelistInterval, _node.Time, token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public bool HasListed => _listedOnce;

    /// <summary>Stops the agent's loops and workers but leaves containers running: an agent that
    /// restarts adopts them.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var w in _workers.Values)
        {
            await w.DisposeAsync();
        }
        try
        {
            await Task.WhenAll(_loops);
        }
        catch (OperationCanceledException)
        {
        }
        if (_endpointReference is not null)
        {
            _node.Grains.DeleteObjectReference<INodeAgentEndpoint>(_endpointReference);
        }
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {Node} registered with pod CIDR {Cidr}")]
    private static partial void LogRegistered(ILogger logger, string node, string cidr);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Registering node {Node} failed; retrying in {Delay}")]
    private static partial void LogRegisterFailed(ILogger logger, Exception exception, string node, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Fenced node {Node}: stopped {Count} container(s) of pods no longer active here ({Pods})")]
    private static partial void LogFenced(ILogger logger, string node, int count, string pods);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {Node} is back in contact with the control plane")]
    private static partial void LogContactRestored(ILogger logger, string node);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat failed; pods keep running, their status reports wait")]
    private static partial void LogHeartbeatFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listing containers failed")]
    private static partial void LogRelistFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cleaning up pod {Uid} failed; the next resync retries")]
    private static partial void LogCleanUpFailed(ILogger logger, Exception exception, string uid);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removing containers of pod {Uid}, which is not bound to this node")]
    private static partial void LogOrphan(ILogger logger, string uid);
}

/// <summary>A runtime that sets up pod networking from the node's pod CIDR.</summary>
public interface IUsesPodCidr
{
    Task ConfigurePodCidrAsync(string? podCidr, CancellationToken cancellationToken);
}
