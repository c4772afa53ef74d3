using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Resources;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.NodeProtocol;

namespace Orchestrator.Grains.Nodes;

/// <summary>
/// A worker node: registered by its agent, kept Ready by the agent's heartbeats. The lease lives
/// in memory (Kubernetes keeps it in a Lease object) so that a heartbeat costs no write; the
/// stored status changes only when readiness changes, and its lastHeartbeatTime is refreshed
/// at most every <see cref="HeartbeatPersistPeriod"/>. An activation that starts after a silo
/// crash gives the agent one full lease before judging it.
/// </summary>
[GrainType("node")]
public sealed class NodeGrain(
    GrainServices services)
    : ReconcilerGrain<Node>(services), INodeGrain, INodeLeaseGrain
{
    private const string Component = "node-controller";

    /// <summary>How stale the stored lastHeartbeatTime may get while the node stays Ready.</summary>
    private static readonly TimeSpan HeartbeatPersistPeriod = TimeSpan.FromMinutes(1);

    private DateTimeOffset _lastHeartbeat;
    private INodeAgentEndpoint? _agent;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _lastHeartbeat = Now;
        return base.OnActivateAsync(cancellationToken);
    }

    private ISchedulerGrain Scheduler => GrainFactory.GetGrain<ISchedulerGrain>(SchedulerGrainKeys.Default);

    public async Task<Node> RegisterAsync(NodeRegistration registration)
    {
        if (registration.Name != KeyParts.Name)
        {
            throw ApiErrors.BadRequest($"registration for node \"{registration.Name}\" sent to node \"{KeyParts.Name}\"");
        }
        _lastHeartbeat = Now;
        var cidr = await GrainFactory.GetGrain<IPodCidrAllocatorGrain>(SchedulerGrainKeys.Default).AllocateAsync(KeyParts.Name);
        var labels = new Dictionary<string, string>
        {
            ["kubernetes.io/hostname"] = registration.Name,
            ["kubernetes.io/os"] = registration.NodeInfo?.OperatingSystem ?? "linux",
            ["kubernetes.io/arch"] = registration.NodeInfo?.Architecture ?? "amd64",
        };
        foreach (var (k, v) in registration.Labels ?? new Dictionary<string, string>())
        {
            labels[k] = v;
        }
        var status = new NodeStatus
        {
            Capacity = registration.Capacity,
            Allocatable = registration.Allocatable,
            Addresses = registration.Addresses,
            NodeInfo = registration.NodeInfo,
            Conditions = Conditions.Set(Current?.Status?.Conditions, ReadyCondition(ConditionStatus.True, "KubeletReady", "node agent is posting ready status"), Now),
        };
        if (Current is not { } existing)
        {
            var created = await CreateAsync(new Node
            {
                Metadata = new ObjectMeta { Name = registration.Name, Labels = labels },
                Spec = new NodeSpec
                {
                    PodCIDR = cidr,
                    PodCIDRs = cidr is null ? null : [cidr],
                    Taints = registration.Taints is { Count: > 0 } t ? t : null,
                },
                Status = status,
            });
            await Services.Events.NormalAsync(created, "RegisteredNode", $"Node {registration.Name} event: Registered Node {registration.Name} in Controller", Component);
            return created;
        }
        // An existing node keeps what users set (extra labels, cordon, their taints); the agent's
        // labels and its configured taints are added.
        var mergedLabels = new Dictionary<string, string>(existing.Metadata.Labels ?? new Dictionary<string, string>());
        foreach (var (k, v) in labels)
        {
            mergedLabels[k] = v;
        }
        var taints = (existing.Spec.Taints ?? []).ToList();
        foreach (var t in registration.Taints ?? [])
        {
            if (!taints.Any(x => x.Key == t.Key && x.Effect == t.Effect))
            {
                taints.Add(t);
            }
        }
        var updated = existing with
        {
            Metadata = existing.Metadata with { Labels = mergedLabels },
            Spec = existing.Spec with
            {
                PodCIDR = existing.Spec.PodCIDR ?? cidr,
                PodCIDRs = existing.Spec.PodCIDRs ?? (cidr is null ? null : [cidr]),
                Taints = taints.Count > 0 ? taints : null,
            },
            Status = status with { Conditions = Conditions.Set(existing.Status?.Conditions, ReadyCondition(ConditionStatus.True, "KubeletReady", "node agent is posting ready status"), Now) },
        };
        return await WriteObjectAsync(updated);
    }

    public async Task<bool> HeartbeatAsync(string bootId, INodeAgentEndpoint? endpoint)
    {
        if (Current is not { } node)
        {
            return false;
        }
        _lastHeartbeat = Now;
        _agent = endpoint ?? _agent;
        var ready = node.ReadyCondition();
        if (ready?.Status != ConditionStatus.True || ready.LastHeartbeatTime is not { } last || Now - last > HeartbeatPersistPeriod)
        {
            await SetReadyAsync(node, ConditionStatus.True, "KubeletReady", "node agent is posting ready status");
        }
        return true;
    }

    public async Task<LogChunk> ReadLogAsync(LogRequest request)
    {
        if (_agent is not { } agent || Now - _lastHeartbeat > Options.NodeLeaseDuration)
        {
            throw ApiErrors.Unavailable($"the agent of node {KeyParts.Name} is not connected; logs are served by the node's agent");
        }
        return await agent.ReadLogAsync(request);
    }

    protected override async Task<ReconcileResult> ReconcileAsync(Node node)
    {
        var lease = Options.NodeLeaseDuration;
        var silentFor = Now - _lastHeartbeat;
        if (silentFor > lease && node.ReadyCondition()?.Status != ConditionStatus.Unknown)
        {
            await SetReadyAsync(node, ConditionStatus.Unknown, "NodeStatusUnknown", "Node agent stopped posting node status.");
            node = Current!;
        }
        node = await SyncNoExecuteTaintsAsync(node);
        var evictAgain = await EvictPodsAsync(node);
        // Look again just after the lease would run out, or when the next eviction is due.
        var next = silentFor > lease ? lease : lease - silentFor + TimeSpan.FromMilliseconds(100);
        return ReconcileResult.After(evictAgain is { } e && e < next ? e : next);
    }

    /// <summary>Kubernetes' node lifecycle controller: a node that is not Ready gets the
    /// not-ready taint (Ready=False) or the unreachable taint (Ready=Unknown), both NoExecute;
    /// a Ready node loses them.</summary>
    private async Task<Node> SyncNoExecuteTaintsAsync(Node node)
    {
        var ready = node.ReadyCondition()?.Status ?? ConditionStatus.Unknown;
        var wanted = ready switch
        {
            ConditionStatus.True => null,
            ConditionStatus.False => NodeTaints.NotReady,
            _ => NodeTaints.Unreachable,
        };
        var taints = (node.Spec.Taints ?? []).ToList();
        var changed = taints.RemoveAll(t => t.Effect == TaintEffect.NoExecute && t.Key is NodeTaints.NotReady or NodeTaints.Unreachable && t.Key != wanted) > 0;
        if (wanted is not null && !taints.Any(t => t.Key == wanted && t.Effect == TaintEffect.NoExecute))
        {
            taints.Add(new Taint { Key = wanted, Effect = TaintEffect.NoExecute, TimeAdded = Now });
            changed = true;
        }
        if (!changed)
        {
            return node;
        }
        return await WriteObjectAsync(node with { Spec = node.Spec with { Taints = taints.Count > 0 ? taints : null } });
    }

    /// <summary>
    /// Kubernetes' NoExecute taint manager: pods that do not tolerate a NoExecute taint of the
    /// node are evicted, at once or when their tolerationSeconds run out. A pod with a controller
    /// is deleted (its controller replaces it elsewhere; it stays Terminating until the node's
    /// agent stops it or the node is removed); a pod without one is marked Failed (NodeLost).
    /// Returns when to look again, if an eviction is still to come.
    /// </summary>
    private async Task<TimeSpan?> EvictPodsAsync(Node node)
    {
        var noExecute = (node.Spec.Taints ?? []).Where(t => t.Effect == TaintEffect.NoExecute).ToList();
        if (noExecute.Count == 0)
        {
            return null;
        }
        var pods = await Services.Caches.Of<Pod>()
            .ListAsync(new ResourceQuery { Fields = Selectors.FieldSelector.Parse("spec.nodeName=" + KeyParts.Name, ResourceTypes.Pod) });
        TimeSpan? next = null;
        foreach (var pod in pods.Items.Where(p => p.IsActive()))
        {
            var evictAt = DateTimeOffset.MinValue;
            var never = false;
            foreach (var taint in noExecute)
            {
                var toleration = (pod.Spec.Tolerations ?? []).FirstOrDefault(t => t.Tolerates(taint));
                if (toleration is null)
                {
                    evictAt = Now;
                    never = false;
                    break;
                }
                if (toleration.TolerationSeconds is not { } seconds)
                {
                    never = true;
                    continue;
                }
                var at = (taint.TimeAdded ?? Now).AddSeconds(Math.Max(0, seconds));
                evictAt = at > evictAt ? at : evictAt;
            }
            if (never && evictAt == DateTimeOffset.MinValue)
            {
                continue;
            }
            if (evictAt > Now)
            {
                var wait = evictAt - Now + TimeSpan.FromMilliseconds(50);
                next = next is { } n && n < wait ? n : wait;
                continue;
            }
            var grain = GrainFactory.GetGrain<IPodGrain>(pod.Key());
            var message = $"Node {KeyParts.Name} which was running pod {pod.Metadata.Name} is {(noExecute.Any(t => t.Key == NodeTaints.Unreachable) ? "unresponsive" : "not ready")}";
            try
            {
                if (pod.Metadata.ControllerRef is not null)
                {
                    await Services.Events.NormalAsync(pod, "TaintManagerEviction", $"Marking for deletion Pod {pod.NamespacedName()}: {message}", Component);
                    await grain.DeleteAsync(new DeleteOptions { Preconditions = new Preconditions { Uid = pod.Metadata.Uid } });
                }
                else
                {
                    await GrainFactory.GetGrain<IPodControlGrain>(pod.Key()).MarkFailedAsync(pod.Metadata.Uid!, Pods.PodGrain.NodeLostReason, message);
                }
            }
            catch (ApiException ex) when (ex.Code is 404 or 409)
            {
            }
        }
        return next;
    }

    private async Task SetReadyAsync(Node node, string status, string reason, string message)
    {
        var before = node.ReadyCondition()?.Status;
        var condition = ReadyCondition(status, reason, message);
        var conditions = Conditions.Set(node.Status?.Conditions, condition, Now);
        await WriteStatusAsync(node with { Status = (node.Status ?? new NodeStatus()) with { Conditions = conditions } });
        if (before != status)
        {
            Logger.NodeReadyChanged(KeyParts.Name, status, message);
            await Services.Events.RecordAsync(node, status == ConditionStatus.True ? EventTypes.Normal : EventTypes.Warning,
                status == ConditionStatus.True ? "NodeReady" : "NodeNotReady", $"Node {KeyParts.Name} status is now: {(status == ConditionStatus.True ? "NodeReady" : "NodeNotReady")}", Component);
        }
    }

    private Condition ReadyCondition(string status, string reason, string message) => new()
    {
        Type = NodeConditionType.Ready,
        Status = status,
        Reason = reason,
        Message = message,
        LastHeartbeatTime = Now,
    };

    protected override async Task OnWrittenAsync(Node? old, Node now)
    {
        await base.OnWrittenAsync(old, now);
        if (old is null || SchedulingRelevant(old) != SchedulingRelevant(now))
        {
            await Scheduler.NodeChangedAsync(KeyParts.Name, now);
        }
    }

    /// <summary>The parts of a node the scheduler looks at, as one comparable string.</summary>
    private static string SchedulingRelevant(Node n) => ResourceJson.SerializeToString(new
    {
        n.Metadata.Labels,
        n.Spec.Taints,
        n.Spec.Unschedulable,
        n.Status?.Allocatable,
        Ready = n.ReadyCondition()?.Status,
        n.Metadata.DeletionTimestamp,
    });

    protected override async Task OnRemovedAsync(Node last)
    {
        await base.OnRemovedAsync(last);
        await Scheduler.NodeChangedAsync(KeyParts.Name, null);
        await GrainFactory.GetGrain<IPodCidrAllocatorGrain>(SchedulerGrainKeys.Default).ReleaseAsync(KeyParts.Name);
        // Kubernetes' pod GC: pods bound to a node that no longer exists are deleted at once.
        var pods = await Services.Caches.Of<Pod>()
            .ListAsync(new ResourceQuery { Fields = Selectors.FieldSelector.Parse("spec.nodeName=" + KeyParts.Name, ResourceTypes.Pod) });
        foreach (var pod in pods.Items)
        {
            GrainFactory.GetGrain<IPodGrain>(pod.Key()).DeleteAsync(new DeleteOptions { GracePeriodSeconds = 0 }).Ignore();
        }
    }
}
