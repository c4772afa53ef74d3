using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.Grains.Apps;

/// <summary>Revision history (Kubernetes' cleanupDeployment), and remembering which revisions
/// once ran in full (the candidates for an automatic rollback).</summary>
public sealed partial class DeploymentGrain
{
    /// <summary>Marks the running revision as completed: it ran all replicas, available.</summary>
    private async Task MarkCompletedAsync(Deployment d, IReadOnlyList<ReplicaSet> all)
    {
        var current = RolledBackTarget(d, all) ?? SplitNewAndOld(d, all).New;
        if (current is null || current.Metadata.Annotation(WellKnown.CompletedAnnotation) == "true")
        {
            return;
        }
        var annotations = new Dictionary<string, string>(current.Metadata.Annotations ?? new Dictionary<string, string>())
        {
            [WellKnown.CompletedAnnotation] = "true",
        };
        await GrainFactory.GetGrain<IReplicaSetGrain>(current.Key()).UpdateAsync(current with { Metadata = current.Metadata with { Annotations = annotations } });
    }

    /// <summary>Deletes the oldest scaled-down ReplicaSets beyond revisionHistoryLimit.</summary>
    private async Task CleanupHistoryAsync(Deployment d, IReadOnlyList<ReplicaSet> all)
    {
        var limit = d.Spec.RevisionHistoryLimit ?? Defaults.DeploymentRevisionHistoryLimit;
        var current = RolledBackTarget(d, all) ?? SplitNewAndOld(d, all).New;
        var idle = all.Where(rs => rs != current && (rs.Spec.Replicas ?? 0) == 0 && (rs.Status?.Replicas ?? 0) == 0)
            .OrderBy(Revision)
            .ToList();
        foreach (var rs in idle.Take(Math.Max(0, idle.Count - limit)))
        {
            try
            {
                await GrainFactory.GetGrain<IReplicaSetGrain>(rs.Key()).DeleteAsync(new DeleteOptions { Preconditions = new Preconditions { Uid = rs.Metadata.Uid } });
            }
            catch (ApiException ex) when (ex.Code is 404 or 409)
            {
            }
        }
    }
}
