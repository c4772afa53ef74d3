using System.Globalization;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Resources;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.Grains.Apps;

/// <summary>
/// A Deployment owns ReplicaSets named with the hash of their pod template: a template change
/// makes a new ReplicaSet (or revives the old one with that template), and the strategy moves
/// replicas from the old ones to the new one. Files, as Kubernetes splits its controller:
/// this one is sync.go (finding, creating and scaling ReplicaSets), then Rolling, Recreate,
/// Progress (status and conditions), Rollback (undo and automatic rollback) and History.
/// </summary>
[GrainType("deployment")]
public sealed partial class DeploymentGrain(
    GrainServices services)
    : ReconcilerGrain<Deployment>(services), IDeploymentGrain
{
    private const string Component = "deployment-controller";

    protected override Task<Deployment> OnCreatingAsync(Deployment obj, Validation.FieldErrors errors)
    {
        Admission.HostPaths(obj.Spec.Template.Spec, "spec.template.spec", Options.AllowedHostPathRoots, errors);
        return Task.FromResult(obj);
    }

    protected override Task<Deployment> OnUpdatingAsync(Deployment obj, Deployment old, Validation.FieldErrors errors)
    {
        Admission.HostPaths(obj.Spec.Template.Spec, "spec.template.spec", Options.AllowedHostPathRoots, errors);
        return Task.FromResult(obj);
    }

    protected override async Task<ReconcileResult> ReconcileAsync(Deployment d)
    {
        // Kubernetes' order: deleting, paused, (our) rollback, rollout.
        if (d.Metadata.IsDeleting)
        {
            return ReconcileResult.Done;
        }
        var all = await ReplicaSetsAsync(d);
        var (newRs, olds) = SplitNewAndOld(d, all);
        if (d.Spec.Paused == true)
        {
            // Paused: scale what runs, but start no rollout (template changes wait for resume).
            await ScaleWhilePausedAsync(d, newRs, olds);
            await SyncStatusAsync(d, await ReplicaSetsAsync(d), paused: true);
            return ReconcileResult.Done;
        }
        d = await ClearStaleRollbackAsync(d);
        if (RolledBackTarget(d, all) is { } target)
        {
            // The template still is the one we rolled back from: keep running the good revision.
            newRs = target;
            olds = all.Where(rs => rs != target).ToList();
        }
        else if (newRs is null)
        {
            newRs = await CreateNewReplicaSetAsync(d, all);
            if (newRs is null)
            {
                // A hash collision: status.collisionCount moved on, try again with the new hash.
                return ReconcileResult.After(TimeSpan.Zero);
            }
            all = [.. all, newRs];
        }
        else
        {
            newRs = await SyncRevisionAsync(d, newRs, olds);
        }
        d = await SyncRevisionAnnotationAsync(d, newRs);

        var requeue = IsRecreate(d) ? await RolloutRecreateAsync(d, newRs, olds) : await RolloutRollingAsync(d, newRs, olds);
        all = await ReplicaSetsAsync(d);
        var progress = await SyncStatusAsync(d, all, paused: false);
        var (rolledBack, watchAgain) = await MaybeRollBackAsync(d, all, progress);
        if (rolledBack)
        {
            return ReconcileResult.After(TimeSpan.Zero);
        }
        if (watchAgain is { } again)
        {
            requeue = Min(requeue, again);
        }
        if (progress.Complete)
        {
            if (await MarkCompletedAsync(d, all) is { } stableIn)
            {
                requeue = Min(requeue, ReconcileResult.After(stableIn));
            }
            await CleanupHistoryAsync(d, all);
        }
        return Min(requeue, progress.Requeue);
    }

    private static bool IsRecreate(Deployment d) => d.Spec.Strategy?.Type == DeploymentStrategyType.Recreate;

    private async Task<IReadOnlyList<ReplicaSet>> ReplicaSetsAsync(Deployment d)
    {
        var list = await Services.Caches.Of<ReplicaSet>()
            .ListAsync(new ResourceQuery { Namespace = d.Metadata.Namespace, OwnerUid = d.Metadata.Uid });
        return list.Items.Where(rs => rs.IsControlledBy(d) && !rs.Metadata.IsDeleting).ToList();
    }

    private async Task<IReadOnlyList<Pod>> PodsOfAsync(ReplicaSet rs)
    {
        var list = await Services.Caches.Of<Pod>()
            .ListAsync(new ResourceQuery { Namespace = rs.Metadata.Namespace, OwnerUid = rs.Metadata.Uid });
        return list.Items.Where(p => p.IsControlledBy(rs)).ToList();
    }

    /// <summary>The ReplicaSet whose template equals the deployment's (ignoring the hash label)
    /// is the new one; all others are old.</summary>
    internal static (ReplicaSet? New, IReadOnlyList<ReplicaSet> Old) SplitNewAndOld(Deployment d, IReadOnlyList<ReplicaSet> all)
    {
        var newRs = all.Where(rs => TemplatesEqual(rs.Spec.Template, d.Spec.Template))
            .OrderBy(rs => rs.Metadata.CreationTimestamp)
            .FirstOrDefault();
        return (newRs, all.Where(rs => rs != newRs).ToList());
    }

    internal static bool TemplatesEqual(PodTemplateSpec fromReplicaSet, PodTemplateSpec fromDeployment) =>
        ResourceJson.DeepEquals(WithoutHashLabel(fromReplicaSet), WithoutHashLabel(fromDeployment));

    internal static PodTemplateSpec WithoutHashLabel(PodTemplateSpec t)
    {
        if (t.Metadata?.Labels is not { } labels || !labels.ContainsKey(WellKnown.PodTemplateHashLabel))
        {
            return t;
        }
        var rest = labels.Where(kv => kv.Key != WellKnown.PodTemplateHashLabel).ToDictionary(kv => kv.Key, kv => kv.Value);
        return t with { Metadata = t.Metadata with { Labels = rest.Count > 0 ? rest : null } };
    }

    /// <summary>Kubernetes' ComputeHash: FNV-32a of the template and the collision count,
    /// written in the safe alphabet.</summary>
    internal static string TemplateHash(PodTemplateSpec template, int? collisionCount)
    {
        var bytes = ResourceJson.Serialize(WithoutHashLabel(template)).AsEnumerable();
        if (collisionCount is { } c)
        {
            bytes = bytes.Concat(BitConverter.GetBytes(c));
        }
        return Fnv.SafeEncode(Fnv.Hash32(bytes.ToArray()));
    }

    internal static int Revision(ReplicaSet rs) =>
        int.TryParse(rs.Metadata.Annotation(WellKnown.RevisionAnnotation), NumberStyles.None, CultureInfo.InvariantCulture, out var r) ? r : 0;

    private static int MaxRevision(IEnumerable<ReplicaSet> sets) => sets.Select(Revision).DefaultIfEmpty(0).Max();

    private async Task<ReplicaSet?> CreateNewReplicaSetAsync(Deployment d, IReadOnlyList<ReplicaSet> existing)
    {
        var hash = TemplateHash(d.Spec.Template, d.Status?.CollisionCount);
        var name = $"{d.Metadata.Name}-{hash}";
        var labels = new Dictionary<string, string>(d.Spec.Template.Metadata?.Labels ?? new Dictionary<string, string>())
        {
            [WellKnown.PodTemplateHashLabel] = hash,
        };
        var selector = d.Spec.Selector! with
        {
            MatchLabels = new Dictionary<string, string>(d.Spec.Selector!.MatchLabels ?? new Dictionary<string, string>())
            {
                [WellKnown.PodTemplateHashLabel] = hash,
            },
        };
        var rs = new ReplicaSet
        {
            Metadata = new ObjectMeta
            {
                Name = name,
                Namespace = d.Metadata.Namespace,
                Labels = labels,
                Annotations = new Dictionary<string, string>
                {
                    [WellKnown.RevisionAnnotation] = (MaxRevision(existing) + 1).ToString(CultureInfo.InvariantCulture),
                },
                OwnerReferences = [d.ControllerReferenceTo()],
            },
            Spec = new ReplicaSetSpec
            {
                // Recreate starts the new ReplicaSet empty (it scales up once the old pods are
                // gone); a rolling update starts it at what maxSurge allows.
                Replicas = IsRecreate(d) ? 0 : NewReplicaSetReplicas(d, existing, null),
                MinReadySeconds = d.Spec.MinReadySeconds,
                Selector = selector,
                Template = d.Spec.Template with { Metadata = (d.Spec.Template.Metadata ?? new ObjectMeta()) with { Labels = labels } },
            },
        };
        var grain = GrainFactory.GetGrain<IReplicaSetGrain>(ResourceTypes.ReplicaSet.Key(d.Metadata.Namespace, name));
        try
        {
            var created = await grain.CreateAsync(rs);
            if (created.Spec.Replicas > 0)
            {
                await Services.Events.NormalAsync(d, "ScalingReplicaSet", $"Scaled up replica set {name} from 0 to {created.Spec.Replicas}", Component);
            }
            return created;
        }
        catch (ApiException ex) when (ex.Reason == StatusReason.AlreadyExists)
        {
            var other = await grain.GetAsync();
            if (other is not null && other.IsControlledBy(d) && TemplatesEqual(other.Spec.Template, d.Spec.Template))
            {
                return other;
            }
            // Someone else's ReplicaSet has our name: move to the next hash, as Kubernetes does.
            await WriteStatusAsync(d with { Status = (d.Status ?? new DeploymentStatus()) with { CollisionCount = (d.Status?.CollisionCount ?? 0) + 1 } });
            return null;
        }
    }

    /// <summary>A template that matches an old revision reuses that ReplicaSet; it becomes the
    /// newest revision (Kubernetes moves the revision number the same way).</summary>
    private async Task<ReplicaSet> SyncRevisionAsync(Deployment d, ReplicaSet newRs, IReadOnlyList<ReplicaSet> olds)
    {
        var max = MaxRevision(olds);
        if (Revision(newRs) > max)
        {
            return newRs;
        }
        var annotations = new Dictionary<string, string>(newRs.Metadata.Annotations ?? new Dictionary<string, string>())
        {
            [WellKnown.RevisionAnnotation] = (max + 1).ToString(CultureInfo.InvariantCulture),
        };
        return await ChangeReplicaSetAsync(newRs, rs => rs with { Metadata = rs.Metadata with { Annotations = annotations } });
    }

    /// <summary>The deployment carries its current revision, as Kubernetes' does.</summary>
    private async Task<Deployment> SyncRevisionAnnotationAsync(Deployment d, ReplicaSet newRs)
    {
        var revision = Revision(newRs).ToString(CultureInfo.InvariantCulture);
        if (d.Metadata.Annotation(WellKnown.RevisionAnnotation) == revision)
        {
            return d;
        }
        var annotations = new Dictionary<string, string>(d.Metadata.Annotations ?? new Dictionary<string, string>())
        {
            [WellKnown.RevisionAnnotation] = revision,
        };
        return await WriteObjectAsync(d with { Metadata = d.Metadata with { Annotations = annotations } });
    }

    /// <summary>Sets a ReplicaSet's replicas (through its grain, with optimistic concurrency).</summary>
    private async Task<ReplicaSet> ScaleAsync(Deployment d, ReplicaSet rs, int replicas)
    {
        var current = rs.Spec.Replicas ?? 0;
        if (current == replicas)
        {
            return rs;
        }
        var scaled = await ChangeReplicaSetAsync(rs, r => r with { Spec = r.Spec with { Replicas = replicas } });
        var verb = replicas > current ? "up" : "down";
        await Services.Events.NormalAsync(d, "ScalingReplicaSet", $"Scaled {verb} replica set {rs.Metadata.Name} from {current} to {replicas}", Component);
        return scaled;
    }

    /// <summary>
    /// Changes one of our ReplicaSets through its grain. The ReplicaSet's own controller writes its
    /// status all the time, so a change based on a listed copy can be stale: on a conflict, read
    /// the ReplicaSet again and apply the change to that (a few times, then give up to the
    /// reconcile's back-off).
    /// </summary>
    private async Task<ReplicaSet> ChangeReplicaSetAsync(ReplicaSet rs, Func<ReplicaSet, ReplicaSet> change)
    {
        var grain = GrainFactory.GetGrain<IReplicaSetGrain>(rs.Key());
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await grain.UpdateAsync(change(rs));
            }
            catch (ApiException ex) when (ex.Reason == StatusReason.Conflict && attempt < 4)
            {
                rs = await grain.GetAsync() ?? throw ApiErrors.NotFound(ReplicaSet.Type, rs.Metadata.Name!);
            }
        }
    }

    /// <summary>While paused, only the replica count follows the spec: the ReplicaSet with pods
    /// (the newest one that has any) absorbs the change.</summary>
    private async Task ScaleWhilePausedAsync(Deployment d, ReplicaSet? newRs, IReadOnlyList<ReplicaSet> olds)
    {
        var active = new[] { newRs }.Concat(olds).OfType<ReplicaSet>().Where(rs => (rs.Spec.Replicas ?? 0) > 0).OrderByDescending(Revision).ToList();
        var desired = d.Spec.Replicas ?? 1;
        var total = active.Sum(rs => rs.Spec.Replicas ?? 0);
        if (active.Count == 0 || total == desired)
        {
            return;
        }
        var target = active[0];
        await ScaleAsync(d, target, Math.Max(0, (target.Spec.Replicas ?? 0) + desired - total));
    }

    private static ReconcileResult Min(ReconcileResult a, ReconcileResult b) =>
        (a.RequeueAfter, b.RequeueAfter) switch
        {
            (null, _) => b,
            (_, null) => a,
            var (x, y) => x < y ? a : b,
        };
}
