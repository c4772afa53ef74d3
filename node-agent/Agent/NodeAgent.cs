using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Runtime;

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

    public INodeGrain NodeGrain => _node.Grains.GetGrain<INodeGrain>(NodeName);

    /// <summary>Registers the node and starts the heartbeat and container-watch loops. Pods
    /// arrive through <see cref="OnPodChangedAsync"/> and <see cref="OnPodsListedAsync"/>.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await RegisterAsync(cancellationToken);
        _loops.Add(Task.Run(() => HeartbeatLoopAsync(_stop.Token), CancellationToken.None));
        _loops.Add(Task.Run(() => RelistLoopAsync(_stop.Token), CancellationToken.None));
    }

    private async Task RegisterAsync(CancellationToken cancellationToken)
    {
        var registration = NodeIdentity.Describe(NodeName, _node.Options, _node.Runtime.Version);
        var node = await NodeGrain.RegisterAsync(registration);
        _node.HostIP = node.Status?.Addresses?.FirstOrDefault(a => a.Type == "InternalIP")?.Address;
        if (_node.Runtime is IUsesPodCidr network)
        {
            await network.ConfigurePodCidrAsync(node.Spec.PodCIDR, cancellationToken);
        }
        _endpointReference ??= _node.Grains.CreateObjectReference<INodeAgentEndpoint>(_endpoint);
        await NodeGrain.HeartbeatAsync(_bootId, _endpointReference);
        LogRegistered(_node.Logger, NodeName, node.Spec.PodCIDR ?? "none");
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

    private async Task HeartbeatLoopAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            try
            {
                if (!await NodeGrain.HeartbeatAsync(_bootId, _endpointReference))
                {
                    // The node object was deleted: register again.
                    await RegisterAsync(token);
                }
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                // Pods keep running while the control plane is unreachable (Kubernetes' behaviour).
                LogHeartbeatFailed(_node.Logger, ex);
            }
            try
            {
                await Task.Delay(_node.Options.HeartbeatInterval, _node.Time, token);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat failed; pods keep running")]
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
