using Orchestrator.Grains.Resources;
using Orchestrator.Model;

namespace Orchestrator.Grains.Apps;

/// <summary>The Recreate strategy (Kubernetes' recreate.go): every old pod goes first, then the
/// new ReplicaSet scales up. Capacity drops to zero in between, which is what users choose it for
/// (two versions must never run at once).</summary>
public sealed partial class DeploymentGrain
{
    private async Task<ReconcileResult> RolloutRecreateAsync(Deployment d, ReplicaSet newRs, IReadOnlyList<ReplicaSet> olds)
    {
        foreach (var rs in olds.Where(rs => (rs.Spec.Replicas ?? 0) > 0))
        {
            await ScaleAsync(d, rs, 0);
        }
        foreach (var rs in olds)
        {
            // Wait until no old pod exists at all, terminating ones included.
            if ((await PodsOfAsync(rs)).Any(p => !p.IsTerminal()))
            {
                return ReconcileResult.After(TimeSpan.FromSeconds(1));
            }
        }
        await ScaleAsync(d, newRs, d.Spec.Replicas ?? 1);
        return ReconcileResult.Done;
    }
}
