using Orchestrator.Model;
using Orchestrator.Grains.Resources;

namespace Orchestrator.Grains.Apps;

/// <summary>
/// How replicas move from old ReplicaSets to the new one. This is the seam for the rollout
/// strategies (RollingUpdate with maxSurge/maxUnavailable, Recreate): for now the new
/// ReplicaSet is scaled to full size at once and the old ones are scaled to zero only when the
/// new one is fully available, so capacity never drops during an update.
/// </summary>
public sealed partial class DeploymentGrain
{
    /// <summary>Replicas a freshly created ReplicaSet starts with.</summary>
    private static int InitialReplicas(Deployment d, IReadOnlyList<ReplicaSet> existing) => d.Spec.Replicas ?? 1;

    private async Task<ReconcileResult> RolloutAsync(Deployment d, ReplicaSet newRs, IReadOnlyList<ReplicaSet> olds)
    {
        var desired = d.Spec.Replicas ?? 1;
        newRs = await ScaleAsync(d, newRs, desired);
        var newAvailable = newRs.Status?.ObservedGeneration >= newRs.Metadata.Generation
            && (newRs.Status?.AvailableReplicas ?? 0) >= desired;
        if (!newAvailable)
        {
            // Pods becoming available poke the ReplicaSet, which pokes us.
            return ReconcileResult.Done;
        }
        foreach (var old in olds.Where(rs => (rs.Spec.Replicas ?? 0) > 0))
        {
            await ScaleAsync(d, old, 0);
        }
        return ReconcileResult.Done;
    }
}
