using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Resources;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.NodeProtocol;
using Orchestrator.Grains.Security;

namespace Orchestrator.Grains.Pods;

/// <summary>
/// A pod. Unbound pods are the scheduler's work; bound pods are their node agent's. Deleting a
/// bound pod is graceful: it gets a deletionTimestamp, the node agent stops its containers
/// within the grace period and then finishes the deletion.
/// </summary>
[GrainType("pod")]
public sealed class PodGrain(
    GrainServices services,
    ServiceAccountTokens tokens,
    IClusterCredentials credentials)
    : ResourceGrain<Pod>(services), IPodGrain, IPodControlGrain, IPodStatusReportGrain
{
    private const string SchedulerComponent = "default-scheduler";

    private ISchedulerGrain Scheduler => GrainFactory.GetGrain<ISchedulerGrain>(SchedulerGrainKeys.Default);

    protected override async Task<Pod> OnCreatingAsync(Pod obj, Validation.FieldErrors errors)
    {
        Admission.HostPaths(obj.Spec, "spec", Options.AllowedHostPathRoots, errors);
        // Kubernetes runs validating admission (PodSecurity among it) on valid objects only: an
        // invalid pod hears about its fields (422), not about policy.
        if (!errors.Any)
        {
            Security.PodSecurityPolicy.Enforce(obj, await OwnNamespaceAsync(), Options.PodSecurity);
            await Admission.ServiceAccountExistsAsync(obj, Services.Caches.Of<ServiceAccount>(), GrainFactory);
        }
        obj = obj with { Spec = obj.Spec with { Tolerations = WithDefaultTolerations(obj.Spec.Tolerations) } };
        // A pod created with spec.nodeName is bound from the start (Kubernetes allows this;
        // the scheduler only accounts for it).
        if (obj.IsScheduled())
        {
            obj = obj with { Status = WithCondition(obj.Status, PodConditionType.PodScheduled, ConditionStatus.True, null, null) };
        }
        return obj;
    }

    protected override Task<Pod> OnUpdatingAsync(Pod obj, Pod old, Validation.FieldErrors errors) =>
        Task.FromResult(obj with { Spec = obj.Spec with { Tolerations = WithDefaultTolerations(obj.Spec.Tolerations) } });

    protected override async Task OnWrittenAsync(Pod? old, Pod now)
    {
        await base.OnWrittenAsync(old, now);
        await PokeServicesAsync(old, now);
        if (old is null || (!old.IsTerminal() && now.IsTerminal()) || (old.Metadata.DeletionTimestamp is null && now.Metadata.DeletionTimestamp is not null))
        {
            await Scheduler.PodChangedAsync(now);
        }
    }

    protected override async Task OnRemovedAsync(Pod last)
    {
        await base.OnRemovedAsync(last);
        await PokeServicesAsync(last, null);
        await Scheduler.PodReleasedAsync(Key);
    }

    /// <summary>
    /// Kubernetes' endpoints controller reacts to a pod change by finding the services whose
    /// selector matches the pod (before or after) and syncing those: so does this grain, from this
    /// silo's service cache. A service this silo has not heard of yet lists its pods itself when
    /// it is created, and every service re-lists on its reminder.
    /// </summary>
    private async Task PokeServicesAsync(Pod? old, Pod? now)
    {
        // What endpoints are made of: labels, IP, readiness, phase, deletion, node.
        if (old is not null && now is not null && ResourceJson.DeepEquals(old.Metadata.Labels, now.Metadata.Labels)
            && old.Status?.PodIP == now.Status?.PodIP && old.IsReady() == now.IsReady() && old.Status?.Phase == now.Status?.Phase
            && old.Metadata.IsDeleting == now.Metadata.IsDeleting && old.Spec.NodeName == now.Spec.NodeName)
        {
            return;
        }
        var services = await Services.Caches.Of<Service>().ListAsync(ResourceQuery.InNamespace(KeyParts.Namespace), new ListOptions { ResourceVersion = "0" });
        foreach (var svc in services.Items)
        {
            if (svc.Spec.Selector is not { Count: > 0 } selector)
            {
                continue;
            }
            var matches = Selectors.Selector.FromLabels(selector);
            if ((old is not null && matches.Matches(old.Metadata.Labels)) || (now is not null && matches.Matches(now.Metadata.Labels)))
            {
                await GrainFactory.GetGrain<IServiceGrain>(svc.Key()).AsReference<IReconciler>().PokeAsync();
            }
        }
    }

    public async Task<Pod> BindAsync(string nodeName, string uid)
    {
        var pod = Current ?? throw ApiErrors.NotFound(Pod.Type, KeyParts.Name);
        if (pod.Metadata.Uid != uid)
        {
            throw ApiErrors.Conflict(Pod.Type, KeyParts.Name, "the pod was replaced by a newer one of the same name");
        }
        if (pod.IsScheduled())
        {
            if (pod.Spec.NodeName == nodeName)
            {
                return pod;
            }
            throw ApiErrors.Conflict(Pod.Type, KeyParts.Name, $"pod {KeyParts.Name} is already assigned to node \"{pod.Spec.NodeName}\"");
        }
        if (pod.Metadata.IsDeleting)
        {
            throw ApiErrors.Conflict(Pod.Type, KeyParts.Name, "the pod is being deleted");
        }
        var bound = pod with
        {
            Spec = pod.Spec with { NodeName = nodeName },
            Status = WithCondition(pod.Status, PodConditionType.PodScheduled, ConditionStatus.True, null, null),
        };
        var stored = await WriteObjectAsync(bound);
        await Services.Events.NormalAsync(stored, "Scheduled", $"Successfully assigned {stored.NamespacedName()} to {nodeName}", SchedulerComponent);
        return stored;
    }

    public async Task MarkUnschedulableAsync(string uid, string message)
    {
        if (Current is not { } pod || pod.Metadata.Uid != uid || pod.IsScheduled() || pod.Metadata.IsDeleting)
        {
            return;
        }
        var status = WithCondition(pod.Status, PodConditionType.PodScheduled, ConditionStatus.False, "Unschedulable", message);
        if (await WriteStatusAsync(pod with { Status = status }) is { } stored)
        {
            await Services.Events.WarningAsync(stored, "FailedScheduling", message, SchedulerComponent);
        }
    }

    public async Task<Pod?> ReportStatusAsync(string nodeName, string uid, PodStatus status)
    {
        if (Current is not { } pod || pod.Metadata.Uid != uid || pod.Spec.NodeName != nodeName)
        {
            // Not this node's pod (any more): never let a stale agent overwrite newer truth.
            return null;
        }
        if (pod.Status?.Reason == NodeLostReason)
        {
            // The control plane declared this pod lost with its node: an agent that comes back
            // stops it, and its view (still running, say) is stale.
            return null;
        }
        // The scheduler owns PodScheduled; the agent reports everything else.
        var scheduled = pod.Status?.Conditions?.FirstOrDefault(c => c.Type == PodConditionType.PodScheduled);
        var conditions = (status.Conditions ?? []).Where(c => c.Type != PodConditionType.PodScheduled).ToList();
        if (scheduled is not null)
        {
            conditions.Insert(0, scheduled);
        }
        var merged = status with
        {
            Conditions = conditions,
            QosClass = pod.Status?.QosClass,
        };
        return await WriteStatusAsync(pod with { Status = merged }) ?? pod;
    }

    public async Task<PodToken?> RequestServiceAccountTokenAsync(string nodeName, string uid)
    {
        if (Current is not { } pod || pod.Metadata.Uid != uid || pod.Spec.NodeName != nodeName)
        {
            throw ApiErrors.Forbidden(Pod.Type, KeyParts.Name, $"pod is not bound to node \"{nodeName}\"");
        }
        var (ns, _) = KeyParts;
        var saName = string.IsNullOrEmpty(pod.Spec.ServiceAccountName) ? ServiceAccount.DefaultName : pod.Spec.ServiceAccountName;
        var accounts = Services.Caches.Of<ServiceAccount>();
        var saKey = ServiceAccount.Type.Key(ns, saName);
        var sa = await accounts.GetAsync(saKey);
        if (sa is null)
        {
            await accounts.SyncAsync();
            sa = await accounts.GetAsync(saKey) ?? throw ApiErrors.NotFound(ServiceAccount.Type, saName);
        }
        if ((pod.Spec.AutomountServiceAccountToken ?? sa.AutomountServiceAccountToken) == false)
        {
            return null;
        }
        var node = await Services.Caches.Of<Node>().GetAsync(nodeName) is { Metadata.Uid: { } nodeUid } ? new BoundObject(nodeName, nodeUid) : null;
        var issued = tokens.Issue(sa, null, ServiceAccountTokens.DefaultLifetime, new BoundObject(pod.Metadata.Name!, uid), node);
        return new PodToken
        {
            Token = issued.Token,
            IssuedAt = issued.ExpirationTimestamp - ServiceAccountTokens.DefaultLifetime,
            ExpirationTimestamp = issued.ExpirationTimestamp,
            CaCertificatePem = credentials.CaCertificatePem,
            Namespace = ns!,
        };
    }

    public const string NodeLostReason = "NodeLost";

    public async Task MarkFailedAsync(string uid, string reason, string message)
    {
        if (Current is not { } pod || pod.Metadata.Uid != uid || pod.IsTerminal())
        {
            return;
        }
        var status = (pod.Status ?? new PodStatus()) with
        {
            Phase = PodPhase.Failed,
            Reason = reason,
            Message = message,
            Conditions = Conditions.Set(pod.Status?.Conditions, new Condition { Type = PodConditionType.Ready, Status = ConditionStatus.False, Reason = reason }, Now),
        };
        if (await WriteStatusAsync(pod with { Status = status }) is { } stored)
        {
            await Services.Events.WarningAsync(stored, reason, message, "node-controller");
        }
    }

    /// <summary>Kubernetes' DefaultTolerationSeconds admission: every pod tolerates a node that
    /// is not ready or unreachable for a while (ours: Orchestrator:DefaultTolerationSeconds),
    /// unless it says how long itself.</summary>
    private IReadOnlyList<Toleration>? WithDefaultTolerations(IReadOnlyList<Toleration>? tolerations)
    {
        var list = (tolerations ?? []).ToList();
        var seconds = (long)Options.DefaultTolerationSeconds.TotalSeconds;
        foreach (var key in new[] { NodeTaints.NotReady, NodeTaints.Unreachable })
        {
            if (!list.Any(t => (t.Key == key || (string.IsNullOrEmpty(t.Key) && t.Operator == "Exists")) && t.Effect is null or "" or TaintEffect.NoExecute))
            {
                list.Add(new Toleration { Key = key, Operator = "Exists", Effect = TaintEffect.NoExecute, TolerationSeconds = seconds });
            }
        }
        return list;
    }

    public async Task FinishTerminationAsync(string nodeName, string uid)
    {
        if (Current is { } pod && pod.Metadata.Uid == uid && pod.Spec.NodeName == nodeName && pod.Metadata.IsDeleting
            && pod.Metadata.Finalizers is not { Count: > 0 })
        {
            await RemoveAsync(pod);
        }
    }

    protected override async Task<DeleteResult<Pod>> DeleteCoreAsync(Pod current, DeleteOptions options)
    {
        var grace = options.GracePeriodSeconds ?? current.Spec.TerminationGracePeriodSeconds ?? Defaults.TerminationGracePeriodSeconds;
        if (current.Metadata.Finalizers is { Count: > 0 })
        {
            return new DeleteResult<Pod>(await MarkDeletingAsync(current, addFinalizer: null, grace), Finished: false);
        }
        // An unbound pod has no containers to stop; grace 0 is Kubernetes' force deletion; a pod
        // bound to a node that no longer exists has nobody to stop it (Kubernetes' pod GC).
        // (The node's existence is asked of the node cache, not the node grain: the node grain
        // itself deletes pods when it evicts them, and would be waiting for this call.)
        if (!current.IsScheduled() || grace == 0
            || await Services.Caches.Of<Node>().GetAsync(current.Spec.NodeName!) is null)
        {
            return await RemoveAsync(current);
        }
        if (current.Metadata.IsDeleting)
        {
            // A second delete may shorten the grace period, never lengthen it.
            if (grace < (current.Metadata.DeletionGracePeriodSeconds ?? long.MaxValue))
            {
                var shortened = current.WithMetadata(current.Metadata with
                {
                    DeletionGracePeriodSeconds = grace,
                    DeletionTimestamp = Now.AddSeconds(grace),
                });
                return new DeleteResult<Pod>(await WriteObjectAsync(shortened), Finished: false);
            }
            return new DeleteResult<Pod>(current, Finished: false);
        }
        return new DeleteResult<Pod>(await MarkDeletingAsync(current, addFinalizer: null, grace), Finished: false);
    }

    /// <summary>As <see cref="DeleteCoreAsync"/> decides, without the node lookup's side: a bound
    /// pod with a grace period would be marked for deletion, any other removed.</summary>
    protected override DeleteResult<Pod> DryRunDelete(Pod current, DeleteOptions options)
    {
        var grace = options.GracePeriodSeconds ?? current.Spec.TerminationGracePeriodSeconds ?? Defaults.TerminationGracePeriodSeconds;
        return current.Metadata.Finalizers is { Count: > 0 } || (current.IsScheduled() && grace > 0)
            ? new DeleteResult<Pod>(MarkedDeleting(current, current.Metadata.IsDeleting ? null : grace), Finished: false)
            : new DeleteResult<Pod>(current, Finished: true);
    }

    private PodStatus WithCondition(PodStatus? status, string type, string value, string? reason, string? message)
    {
        status ??= new PodStatus { Phase = PodPhase.Pending };
        var condition = new Condition { Type = type, Status = value, Reason = reason, Message = message };
        return status with { Conditions = Conditions.Set(status.Conditions, condition, Now) };
    }
}
