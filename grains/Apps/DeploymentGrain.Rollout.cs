using Orchestrator.Grains.Resources;
using Orchestrator.Model;

namespace Orchestrator.Grains.Apps;

/// <summary>The RollingUpdate strategy (Kubernetes' rolling.go): total pods stay at most
/// replicas + maxSurge, available pods at least replicas - maxUnavailable.</summary>
public sealed partial class DeploymentGrain
{
    private async Task<ReconcileResult> RolloutRollingAsync(Deployment d, ReplicaSet newRs, IReadOnlyList<ReplicaSet> olds)
    {
        var all = olds.Append(newRs).ToList();
        // Scale up, if we can.
        var target = NewReplicaSetReplicas(d, all, newRs);
        if (target != (newRs.Spec.Replicas ?? 0))
        {
            await ScaleAsync(d, newRs, target);
            return ReconcileResult.Done;
        }
        // Scale down, if we can.
        await ReconcileOldReplicaSetsAsync(d, all, olds.Where(rs => (rs.Spec.Replicas ?? 0) > 0).ToList(), newRs);
        return ReconcileResult.Done;
    }

    /// <summary>Kubernetes' NewRSNewReplicas: grow the new ReplicaSet as far as maxSurge allows,
    /// never past spec.replicas; shrink it if it is above spec.replicas.</summary>
    internal static int NewReplicaSetReplicas(Deployment d, IReadOnlyList<ReplicaSet> all, ReplicaSet? newRs)
    {
        var desired = d.Spec.Replicas ?? 1;
        var current = newRs?.Spec.Replicas ?? 0;
        if (current >= desired)
        {
            return desired;
        }
        var (surge, _) = ResolveFenceposts(d);
        var allPods = all.Sum(PodsOf);
        var maxTotal = desired + surge;
        if (allPods >= maxTotal)
        {
            return current;
        }
        return current + Math.Min(maxTotal - allPods, desired - current);
    }

    /// <summary>Kubernetes' reconcileOldReplicaSets: first drop old pods that are not available
    /// anyway, then scale old ReplicaSets down as far as the available count allows.</summary>
    private async Task ReconcileOldReplicaSetsAsync(Deployment d, List<ReplicaSet> all, List<ReplicaSet> olds, ReplicaSet newRs)
    {
        var oldPods = olds.Sum(rs => rs.Spec.Replicas ?? 0);
        if (oldPods == 0)
        {
            return;
        }
        var desired = d.Spec.Replicas ?? 1;
        var allPods = all.Sum(PodsOf);
        var minAvailable = desired - MaxUnavailable(d);
        var newUnavailable = (newRs.Spec.Replicas ?? 0) - AvailableOf(newRs);
        var maxScaledDown = allPods - minAvailable - newUnavailable;
        if (maxScaledDown <= 0)
        {
            return;
        }

        // Unhealthy old pods first: removing them costs no availability.
        var cleaned = 0;
        foreach (var rs in olds.OrderBy(rs => rs.Metadata.CreationTimestamp).ToList())
        {
            if (cleaned >= maxScaledDown)
            {
                break;
            }
            var unhealthy = (rs.Spec.Replicas ?? 0) - AvailableOf(rs);
            if (unhealthy <= 0 || rs.Status?.ObservedGeneration < rs.Metadata.Generation)
            {
                continue;
            }
            var drop = Math.Min(unhealthy, maxScaledDown - cleaned);
            var scaled = await ScaleAsync(d, rs, (rs.Spec.Replicas ?? 0) - drop);
            cleaned += drop;
            olds[olds.IndexOf(rs)] = scaled;
            all[all.IndexOf(rs)] = scaled;
        }

        // Then healthy ones, oldest first, as long as enough pods stay available.
        var available = all.Sum(AvailableOf);
        if (available <= minAvailable)
        {
            return;
        }
        var toScaleDown = available - minAvailable;
        var scaledDown = 0;
        foreach (var rs in olds.OrderBy(rs => rs.Metadata.CreationTimestamp))
        {
            if (scaledDown >= toScaleDown)
            {
                break;
            }
            var replicas = rs.Spec.Replicas ?? 0;
            if (replicas == 0)
            {
                continue;
            }
            var drop = Math.Min(replicas, toScaleDown - scaledDown);
            await ScaleAsync(d, rs, replicas - drop);
            scaledDown += drop;
        }
    }

    /// <summary>
    /// The pods a ReplicaSet has or is about to have: the larger of what it should run and what its
    /// controller last counted. Kubernetes counts only spec.replicas, which lets pods exceed
    /// maxSurge while an old ReplicaSet's controller is slow to delete (as it is when its silo has
    /// just died and it has not come back yet); counting its last seen pods too keeps the bound.
    /// </summary>
    private static int PodsOf(ReplicaSet rs) => Math.Max(rs.Spec.Replicas ?? 0, rs.Status?.Replicas ?? 0);

    /// <summary>
    /// The available pods a ReplicaSet can be counted on for: what its controller last counted, but
    /// never more than it is now asked to run. Just after a scale-down its status may still count a
    /// pod that is being deleted; counting that pod would scale down again, below
    /// replicas - maxUnavailable.
    /// </summary>
    private static int AvailableOf(ReplicaSet rs) => Math.Min(rs.Status?.AvailableReplicas ?? 0, rs.Spec.Replicas ?? 0);

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
