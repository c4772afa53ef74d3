using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Resources;
using Orchestrator.Model;
using Orchestrator.Selectors;

namespace Orchestrator.Grains.Apps;

/// <summary>
/// Keeps <c>spec.replicas</c> active pods from the template (Kubernetes' ReplicaSet controller).
/// It only ever touches pods it controls (ownerReference with controller: true and its uid).
/// </summary>
[GrainType("replicaset")]
public sealed class ReplicaSetGrain(
    GrainServices services)
    : ReconcilerGrain<ReplicaSet>(services), IReplicaSetGrain
{
    private const string Component = "replicaset-controller";

    /// <summary>Kubernetes' burstReplicas: at most this many creations or deletions per pass.</summary>
    private const int BurstReplicas = 500;

    protected override Task<ReplicaSet> OnCreatingAsync(ReplicaSet obj, Validation.FieldErrors errors)
    {
        Admission.HostPaths(obj.Spec.Template.Spec, "spec.template.spec", Options.AllowedHostPathRoots, errors);
        return Task.FromResult(obj);
    }

    protected override Task<ReplicaSet> OnUpdatingAsync(ReplicaSet obj, ReplicaSet old, Validation.FieldErrors errors)
    {
        Admission.HostPaths(obj.Spec.Template.Spec, "spec.template.spec", Options.AllowedHostPathRoots, errors);
        return Task.FromResult(obj);
    }

    protected override async Task<ReconcileResult> ReconcileAsync(ReplicaSet rs)
    {
        if (rs.Metadata.IsDeleting)
        {
            return ReconcileResult.Done;
        }
        var owned = await PodsAsync(rs);
        var active = owned.Where(p => p.IsActive()).ToList();
        var want = rs.Spec.Replicas ?? 1;
        string? failure = null;
        if (active.Count < want)
        {
            failure = await CreatePodsAsync(rs, Math.Min(want - active.Count, BurstReplicas));
        }
        else if (active.Count > want)
        {
            await DeletePodsAsync(rs, PickForDeletion(active, Math.Min(active.Count - want, BurstReplicas)));
        }
        // Count what exists now, so status reflects the pods just created or deleted.
        active = (await PodsAsync(rs)).Where(p => p.IsActive()).ToList();
        var requeue = await UpdateStatusFromPodsAsync(rs, active, failure);
        if (failure is not null || active.Count != want)
        {
            return ReconcileResult.After(TimeSpan.FromSeconds(1));
        }
        return requeue;
    }

    private async Task<IReadOnlyList<Pod>> PodsAsync(ReplicaSet rs)
    {
        var list = await Services.Caches.Of<Pod>()
            .ListAsync(new ResourceQuery { Namespace = rs.Metadata.Namespace, OwnerUid = rs.Metadata.Uid });
        return list.Items.Where(p => p.IsControlledBy(rs)).ToList();
    }

    /// <summary>Creates pods in Kubernetes' slow-start batches (1, 2, 4 ...) so that a template
    /// that cannot be created fails once, not <c>replicas</c> times. Returns the first error.</summary>
    private async Task<string?> CreatePodsAsync(ReplicaSet rs, int count)
    {
        var created = 0;
        for (var batch = 1; created < count; batch = Math.Min(batch * 2, count - created))
        {
            var size = Math.Min(batch, count - created);
            var results = await Task.WhenAll(Enumerable.Range(0, size).Select(_ => CreatePodAsync(rs)));
            created += size;
            if (results.FirstOrDefault(r => r is not null) is { } error)
            {
                await Services.Events.WarningAsync(rs, "FailedCreate", $"Error creating: {error}", Component);
                return error;
            }
        }
        return null;
    }

    private async Task<string?> CreatePodAsync(ReplicaSet rs)
    {
        var template = rs.Spec.Template;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var name = $"{rs.Metadata.Name}-{Fnv.RandomSuffix()}";
            var pod = new Pod
            {
                Metadata = new ObjectMeta
                {
                    Name = name,
                    GenerateName = rs.Metadata.Name + "-",
                    Namespace = rs.Metadata.Namespace,
                    Labels = template.Metadata?.Labels,
                    Annotations = template.Metadata?.Annotations,
                    OwnerReferences = [rs.ControllerReferenceTo()],
                },
                Spec = template.Spec,
            };
            try
            {
                var created = await GrainFactory.GetGrain<IPodGrain>(ResourceTypes.Pod.Key(rs.Metadata.Namespace, name)).CreateAsync(pod);
                await Services.Events.NormalAsync(rs, "SuccessfulCreate", $"Created pod: {created.Metadata.Name}", Component);
                return null;
            }
            catch (ApiException ex) when (ex.Reason == StatusReason.AlreadyExists)
            {
                // A random name collided; draw another.
            }
            catch (ApiException ex)
            {
                return ex.Status.Message;
            }
        }
        return "could not find a free pod name";
    }

    private async Task DeletePodsAsync(ReplicaSet rs, IEnumerable<Pod> pods)
    {
        await Task.WhenAll(pods.Select(async pod =>
        {
            try
            {
                await GrainFactory.GetGrain<IPodGrain>(pod.Key()).DeleteAsync(new DeleteOptions { Preconditions = new Preconditions { Uid = pod.Metadata.Uid } });
                await Services.Events.NormalAsync(rs, "SuccessfulDelete", $"Deleted pod: {pod.Metadata.Name}", Component);
            }
            catch (ApiException ex) when (ex.Code is 404 or 409)
            {
            }
        }));
    }

    /// <summary>Kubernetes' deletion order (controller.ActivePods): unscheduled before
    /// scheduled, pending before running, not ready before ready, recently ready before long
    /// ready, more restarts before fewer, newer before older.</summary>
    internal static IEnumerable<Pod> PickForDeletion(IEnumerable<Pod> pods, int count) => pods
        .OrderBy(p => p.IsScheduled() ? 1 : 0)
        .ThenBy(p => p.Status?.Phase switch { PodPhase.Pending => 0, PodPhase.Unknown => 1, PodPhase.Running => 2, _ => 0 })
        .ThenBy(p => p.IsReady() ? 1 : 0)
        .ThenByDescending(p => Conditions.Get(p.Status?.Conditions, PodConditionType.Ready)?.LastTransitionTime ?? DateTimeOffset.MinValue)
        .ThenByDescending(p => p.Status?.ContainerStatuses?.Sum(c => c.RestartCount) ?? 0)
        .ThenByDescending(p => p.Metadata.CreationTimestamp ?? DateTimeOffset.MinValue)
        .Take(count);

    private async Task<ReconcileResult> UpdateStatusFromPodsAsync(ReplicaSet rs, IReadOnlyList<Pod> active, string? failure)
    {
        var now = Now;
        var minReady = rs.Spec.MinReadySeconds ?? 0;
        var templateLabels = rs.Spec.Template.Metadata?.Labels;
        var labeled = templateLabels is null ? active.Count : active.Count(p => Selector.FromLabels(templateLabels).Matches(p.Metadata.Labels));
        var ready = active.Count(p => p.IsReady());
        var available = active.Count(p => p.IsAvailable(minReady, now));
        var conditions = rs.Status?.Conditions?.Where(c => c.Type != "ReplicaFailure").ToList() ?? [];
        if (failure is not null)
        {
            conditions.Add(new Condition { Type = "ReplicaFailure", Status = ConditionStatus.True, Reason = "FailedCreate", Message = failure, LastTransitionTime = now });
        }
        var status = new ReplicaSetStatus
        {
            Replicas = active.Count,
            FullyLabeledReplicas = labeled,
            ReadyReplicas = ready,
            AvailableReplicas = available,
            ObservedGeneration = rs.Metadata.Generation,
            Conditions = conditions.Count > 0 ? conditions : null,
        };
        await WriteStatusAsync(rs with { Status = status });
        if (ready > available && minReady > 0)
        {
            // A ready pod becomes available minReadySeconds after it became ready: look again then.
            var soonest = active.Where(p => p.IsReady() && !p.IsAvailable(minReady, now))
                .Select(p => Conditions.Get(p.Status?.Conditions, PodConditionType.Ready)!.LastTransitionTime!.Value.AddSeconds(minReady) - now)
                .DefaultIfEmpty(TimeSpan.FromSeconds(1)).Min();
            return ReconcileResult.After(soonest < TimeSpan.Zero ? TimeSpan.Zero : soonest);
        }
        return ReconcileResult.Done;
    }
}
