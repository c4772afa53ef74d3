using System.Globalization;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Resources;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.Grains.Apps;

/// <summary>
/// A Deployment owns ReplicaSets named with the hash of their pod template: a template change
/// makes a new ReplicaSet, and the rollout strategy (DeploymentGrain.Rollout.cs) moves replicas
/// from the old ones to the new one. This file is Kubernetes' sync.go: finding and creating
/// ReplicaSets, scaling, and status.
/// </summary>
[GrainType("deployment")]
public sealed partial class DeploymentGrain(
    [PersistentState(ResourceState<Deployment>.StateName, ResourceState<Deployment>.StorageName)] IPersistentState<ResourceState<Deployment>> state,
    GrainServices services)
    : ReconcilerGrain<Deployment>(state, services), IDeploymentGrain
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
        // Kubernetes' order: deleting, paused, scaling, rollout.
        if (d.Metadata.IsDeleting)
        {
            return ReconcileResult.Done;
        }
        var all = await ReplicaSetsAsync(d);
        var (newRs, olds) = SplitNewAndOld(d, all);
        if (d.Spec.Paused == true)
        {
            await SyncStatusAsync(d, newRs, all);
            return ReconcileResult.Done;
        }
        if (newRs is null)
        {
            newRs = await CreateNewReplicaSetAsync(d, all);
            if (newRs is null)
            {
                // A hash collision: status.collisionCount moved on, try again with the new hash.
                return ReconcileResult.After(TimeSpan.Zero);
            }
            all = [.. all, newRs];
        }
        var requeue = await RolloutAsync(d, newRs, olds);
        all = await ReplicaSetsAsync(d);
        (newRs, _) = SplitNewAndOld(d, all);
        await SyncStatusAsync(d, newRs, all);
        return requeue;
    }

    private async Task<IReadOnlyList<ReplicaSet>> ReplicaSetsAsync(Deployment d)
    {
        var list = await GrainFactory.GetGrain<IResourceIndexGrain<ReplicaSet>>(ResourceTypes.ReplicaSet.Plural)
            .ListAsync(new ResourceQuery { Namespace = d.Metadata.Namespace, OwnerUid = d.Metadata.Uid });
        return list.Items.Where(rs => rs.IsControlledBy(d) && !rs.Metadata.IsDeleting).ToList();
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

    private static PodTemplateSpec WithoutHashLabel(PodTemplateSpec t)
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
        var revision = existing.Select(Revision).DefaultIfEmpty(0).Max() + 1;
        var rs = new ReplicaSet
        {
            Metadata = new ObjectMeta
            {
                Name = name,
                Namespace = d.Metadata.Namespace,
                Labels = labels,
                Annotations = new Dictionary<string, string>
                {
                    [WellKnown.RevisionAnnotation] = revision.ToString(CultureInfo.InvariantCulture),
                },
                OwnerReferences = [d.ControllerReferenceTo()],
            },
            Spec = new ReplicaSetSpec
            {
                Replicas = InitialReplicas(d, existing),
                MinReadySeconds = d.Spec.MinReadySeconds,
                Selector = selector,
                Template = d.Spec.Template with { Metadata = (d.Spec.Template.Metadata ?? new ObjectMeta()) with { Labels = labels } },
            },
        };
        var grain = GrainFactory.GetGrain<IReplicaSetGrain>(ResourceTypes.ReplicaSet.Key(d.Metadata.Namespace, name));
        try
        {
            var created = await grain.CreateAsync(rs);
            await Services.Events.NormalAsync(d, "ScalingReplicaSet", $"Scaled up replica set {name} from 0 to {created.Spec.Replicas}", Component);
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

    internal static int Revision(ReplicaSet rs) =>
        int.TryParse(rs.Metadata.Annotation(WellKnown.RevisionAnnotation), NumberStyles.None, CultureInfo.InvariantCulture, out var r) ? r : 0;

    /// <summary>Sets a ReplicaSet's replicas (through its grain, with optimistic concurrency).</summary>
    private async Task<ReplicaSet> ScaleAsync(Deployment d, ReplicaSet rs, int replicas)
    {
        if ((rs.Spec.Replicas ?? 0) == replicas)
        {
            return rs;
        }
        var grain = GrainFactory.GetGrain<IReplicaSetGrain>(rs.Key());
        var scaled = await grain.UpdateAsync(rs with { Spec = rs.Spec with { Replicas = replicas } });
        var verb = replicas > (rs.Spec.Replicas ?? 0) ? "up" : "down";
        await Services.Events.NormalAsync(d, "ScalingReplicaSet", $"Scaled {verb} replica set {rs.Metadata.Name} from {rs.Spec.Replicas ?? 0} to {replicas}", Component);
        return scaled;
    }

    private async Task SyncStatusAsync(Deployment d, ReplicaSet? newRs, IReadOnlyList<ReplicaSet> all)
    {
        var desired = d.Spec.Replicas ?? 1;
        var replicas = all.Sum(rs => rs.Status?.Replicas ?? 0);
        var available = all.Sum(rs => rs.Status?.AvailableReplicas ?? 0);
        var ready = all.Sum(rs => rs.Status?.ReadyReplicas ?? 0);
        var updated = newRs?.Status?.Replicas ?? 0;
        var now = Now;
        var conditions = d.Status?.Conditions;
        var minAvailable = desired - MaxUnavailable(d);
        conditions = Conditions.Set(conditions, available >= minAvailable
            ? new Condition { Type = "Available", Status = ConditionStatus.True, Reason = "MinimumReplicasAvailable", Message = "Deployment has minimum availability.", LastUpdateTime = now }
            : new Condition { Type = "Available", Status = ConditionStatus.False, Reason = "MinimumReplicasUnavailable", Message = "Deployment does not have minimum availability.", LastUpdateTime = now }, now);
        var complete = newRs is not null && updated == desired && replicas == desired && available == desired;
        conditions = Conditions.Set(conditions, complete
            ? new Condition { Type = "Progressing", Status = ConditionStatus.True, Reason = "NewReplicaSetAvailable", Message = $"ReplicaSet \"{newRs!.Metadata.Name}\" has successfully progressed.", LastUpdateTime = now }
            : new Condition { Type = "Progressing", Status = ConditionStatus.True, Reason = "ReplicaSetUpdated", Message = newRs is null ? "Waiting for a new ReplicaSet." : $"ReplicaSet \"{newRs.Metadata.Name}\" is progressing.", LastUpdateTime = now }, now);
        // Keep lastUpdateTime stable when nothing else changed, so an idle deployment is not rewritten.
        conditions = conditions.Select(c =>
        {
            var old = Conditions.Get(d.Status?.Conditions, c.Type);
            return old is not null && old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message ? old : c;
        }).ToList();
        var status = new DeploymentStatus
        {
            ObservedGeneration = d.Metadata.Generation,
            Replicas = replicas,
            UpdatedReplicas = updated,
            ReadyReplicas = ready,
            AvailableReplicas = available,
            UnavailableReplicas = Math.Max(desired - available, 0),
            Conditions = conditions,
            CollisionCount = d.Status?.CollisionCount,
        };
        await WriteStatusAsync(d with { Status = status });
    }

    /// <summary>maxUnavailable as a count (Kubernetes' deploymentutil.MaxUnavailable).</summary>
    internal static int MaxUnavailable(Deployment d)
    {
        var replicas = d.Spec.Replicas ?? 1;
        if (d.Spec.Strategy?.Type != DeploymentStrategyType.RollingUpdate || replicas == 0)
        {
            return 0;
        }
        var (_, unavailable) = ResolveFenceposts(d);
        return Math.Min(unavailable, replicas);
    }

    /// <summary>maxSurge rounds up and maxUnavailable rounds down; both 0 would stall a rollout,
    /// so maxUnavailable becomes 1 (Kubernetes' ResolveFenceposts).</summary>
    internal static (int Surge, int Unavailable) ResolveFenceposts(Deployment d)
    {
        var replicas = d.Spec.Replicas ?? 1;
        var ru = d.Spec.Strategy?.RollingUpdate;
        var surge = (ru?.MaxSurge ?? Defaults.DefaultMaxSurge).Scaled(replicas, roundUp: true) ?? 0;
        var unavailable = (ru?.MaxUnavailable ?? Defaults.DefaultMaxUnavailable).Scaled(replicas, roundUp: false) ?? 0;
        if (surge == 0 && unavailable == 0)
        {
            unavailable = 1;
        }
        return (surge, unavailable);
    }
}
