using Orchestrator.Grains.Resources;
using Orchestrator.Model;

namespace Orchestrator.Grains.Apps;

/// <summary>Status and conditions (Kubernetes' progress.go and sync.go's status), including the
/// progress deadline: a rollout that makes no progress for progressDeadlineSeconds gets
/// Progressing=False, reason ProgressDeadlineExceeded.</summary>
public sealed partial class DeploymentGrain
{
    internal const string Available = "Available";
    internal const string Progressing = "Progressing";
    internal const string RolledBack = "RolledBack";

    private readonly record struct Progress(bool Complete, bool DeadlineExceeded, ReconcileResult Requeue);

    private async Task<Progress> SyncStatusAsync(Deployment d, IReadOnlyList<ReplicaSet> all, bool paused)
    {
        var now = Now;
        var desired = d.Spec.Replicas ?? 1;
        var newRs = RolledBackTarget(d, all) ?? SplitNewAndOld(d, all).New;
        var replicas = all.Sum(rs => rs.Status?.Replicas ?? 0);
        var available = all.Sum(rs => rs.Status?.AvailableReplicas ?? 0);
        var ready = all.Sum(rs => rs.Status?.ReadyReplicas ?? 0);
        var updated = newRs?.Status?.Replicas ?? 0;
        var old = d.Status ?? new DeploymentStatus();
        var status = new DeploymentStatus
        {
            ObservedGeneration = d.Metadata.Generation,
            Replicas = replicas,
            UpdatedReplicas = updated,
            ReadyReplicas = ready,
            AvailableReplicas = available,
            UnavailableReplicas = Math.Max(desired - available, 0),
            CollisionCount = old.CollisionCount,
            Conditions = old.Conditions,
        };

        var minAvailable = desired - MaxUnavailable(d);
        var conditions = SetCondition(status.Conditions, available >= minAvailable
            ? new Condition { Type = Available, Status = ConditionStatus.True, Reason = "MinimumReplicasAvailable", Message = "Deployment has minimum availability." }
            : new Condition { Type = Available, Status = ConditionStatus.False, Reason = "MinimumReplicasUnavailable", Message = "Deployment does not have minimum availability." }, now);

        // Complete: every replica is the new revision and available, and nothing else runs.
        var complete = newRs is not null && updated == desired && replicas == desired && available == desired
            && (newRs.Status?.ObservedGeneration ?? 0) >= (newRs.Metadata.Generation ?? 0);
        var previous = Conditions.Get(old.Conditions, Progressing);
        var deadline = d.Spec.ProgressDeadlineSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
        var requeue = ReconcileResult.Done;
        var exceeded = false;
        Condition progressing;
        if (paused)
        {
            progressing = new Condition { Type = Progressing, Status = ConditionStatus.Unknown, Reason = "DeploymentPaused", Message = "Deployment is paused" };
        }
        else if (complete)
        {
            progressing = new Condition { Type = Progressing, Status = ConditionStatus.True, Reason = "NewReplicaSetAvailable", Message = $"ReplicaSet \"{newRs!.Metadata.Name}\" has successfully progressed." };
        }
        else if (MadeProgress(old, status) || previous is null || previous.Reason is "DeploymentPaused" or "NewReplicaSetAvailable" || previous.Message?.Contains($"\"{newRs?.Metadata.Name}\"", StringComparison.Ordinal) != true)
        {
            // Progress (or a new rollout): the deadline starts again from now.
            progressing = new Condition { Type = Progressing, Status = ConditionStatus.True, Reason = "ReplicaSetUpdated", Message = $"ReplicaSet \"{newRs?.Metadata.Name}\" is progressing.", LastUpdateTime = now };
            if (deadline is { } dl)
            {
                requeue = ReconcileResult.After(dl);
            }
        }
        else if (deadline is { } dl && previous.LastUpdateTime is { } since && now - since > dl)
        {
            exceeded = true;
            progressing = previous.Reason == "ProgressDeadlineExceeded"
                ? previous
                : new Condition { Type = Progressing, Status = ConditionStatus.False, Reason = "ProgressDeadlineExceeded", Message = $"ReplicaSet \"{newRs?.Metadata.Name}\" has timed out progressing.", LastUpdateTime = now };
        }
        else
        {
            progressing = previous;
            if (deadline is { } d2 && previous.LastUpdateTime is { } since2)
            {
                var left = since2 + d2 - now;
                requeue = ReconcileResult.After(left > TimeSpan.Zero ? left + TimeSpan.FromMilliseconds(50) : TimeSpan.Zero);
            }
        }
        conditions = SetCondition(conditions, progressing, now);
        status = status with { Conditions = conditions };
        await WriteStatusAsync(d with { Status = status });
        return new Progress(complete, exceeded, requeue);
    }

    /// <summary>Kubernetes' DeploymentProgressing: more updated, ready or available replicas, or
    /// fewer old ones, than at the last look.</summary>
    private static bool MadeProgress(DeploymentStatus old, DeploymentStatus now) =>
        (now.UpdatedReplicas ?? 0) > (old.UpdatedReplicas ?? 0)
        || (now.ReadyReplicas ?? 0) > (old.ReadyReplicas ?? 0)
        || (now.AvailableReplicas ?? 0) > (old.AvailableReplicas ?? 0)
        || ((now.Replicas ?? 0) - (now.UpdatedReplicas ?? 0)) < ((old.Replicas ?? 0) - (old.UpdatedReplicas ?? 0));

    /// <summary>Sets a condition; lastUpdateTime moves only when something about it changed (or the
    /// caller set it), so an idle deployment is not rewritten on every pass.</summary>
    private static IReadOnlyList<Condition> SetCondition(IReadOnlyList<Condition>? conditions, Condition condition, DateTimeOffset now)
    {
        var existing = Conditions.Get(conditions, condition.Type);
        if (existing is not null && existing.Status == condition.Status && existing.Reason == condition.Reason && existing.Message == condition.Message
            && (condition.LastUpdateTime is null || condition.LastUpdateTime == existing.LastUpdateTime))
        {
            return conditions!;
        }
        return Conditions.Set(conditions, condition with { LastUpdateTime = condition.LastUpdateTime ?? now }, now);
    }
}
