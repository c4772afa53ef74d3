using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.Grains.Apps;

/// <summary>Revision history (Kubernetes' cleanupDeployment), and remembering which revisions
/// once ran in full (the candidates for an automatic rollback).</summary>
public sealed partial class DeploymentGrain
{
    /// <summary>Marks the running revision completed as soon as it is fully available, and stable
    /// once every one of its pods has stayed Ready for the rollback window. Returns how long until
    /// it could become stable, if not yet.</summary>
    private async Task<TimeSpan?> MarkCompletedAsync(Deployment d, IReadOnlyList<ReplicaSet> all)
    {
        var current = RolledBackTarget(d, all) ?? SplitNewAndOld(d, all).New;
        if (current is null || current.Metadata.Annotation(WellKnown.StableAnnotation) == "true")
        {
            return null;
        }
        var marks = new Dictionary<string, string> { [WellKnown.CompletedAnnotation] = "true" };
        var window = TimeSpan.FromSeconds(IntAnnotation(d, WellKnown.RollbackWindowSecondsAnnotation, 10));
        var pods = (await PodsOfAsync(current)).Where(p => p.IsActive()).ToList();
        var readySince = pods.Select(p => Conditions.Get(p.Status?.Conditions, PodConditionType.Ready))
            .Select(c => c?.Status == ConditionStatus.True ? c.LastTransitionTime : null)
            .ToList();
        TimeSpan? wait = TimeSpan.FromSeconds(1);
        if (pods.Count == (d.Spec.Replicas ?? 1) && readySince.All(t => t is not null))
        {
            // No pods at all (replicas: 0) is stable at once.
            var stableAt = readySince.Count == 0 ? Now : readySince.Max()!.Value + window;
            if (stableAt <= Now)
            {
                marks[WellKnown.StableAnnotation] = "true";
                wait = null;
            }
            else
            {
                wait = stableAt - Now + TimeSpan.FromMilliseconds(50);
            }
        }
        if (marks.All(m => current.Metadata.Annotation(m.Key) == m.Value))
        {
            return wait;
        }
        await ChangeReplicaSetAsync(current, rs =>
        {
            var annotations = new Dictionary<string, string>(rs.Metadata.Annotations ?? new Dictionary<string, string>());
            foreach (var (k, v) in marks)
            {
                annotations[k] = v;
            }
            return rs with { Metadata = rs.Metadata with { Annotations = annotations } };
        });
        return wait;
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
