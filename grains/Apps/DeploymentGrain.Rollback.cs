using System.Globalization;
using Orchestrator.Grains.Resources;
using Orchestrator.Model;

namespace Orchestrator.Grains.Apps;

/// <summary>
/// Rolling back. Kubernetes only rolls back when asked (kubectl rollout undo); we also roll back
/// on our own, by default, when a rollout fails: its deadline passes, or a new pod crash-loops
/// or stays unavailable too long. The deployment then runs the last revision that was fully
/// available again, says why in an Event and a RolledBack condition, and leaves its spec alone:
/// the failed template is not tried again until the template changes.
/// </summary>
public sealed partial class DeploymentGrain
{
    /// <summary>Undo: put the template of <paramref name="revision"/> (0: the one before the
    /// current) back into the spec. Like kubectl rollout undo, this is a new revision.</summary>
    public async Task<Deployment> RollbackToAsync(int revision)
    {
        var d = Current ?? throw ApiErrors.NotFound(Deployment.Type, KeyParts.Name);
        var all = await ReplicaSetsAsync(d);
        var current = RolledBackTarget(d, all) ?? SplitNewAndOld(d, all).New;
        var currentRevision = current is null ? int.MaxValue : Revision(current);
        var target = revision == 0
            ? all.Where(rs => Revision(rs) < currentRevision).MaxBy(Revision)
            : all.FirstOrDefault(rs => Revision(rs) == revision);
        if (target is null)
        {
            throw ApiErrors.BadRequest(revision == 0
                ? $"deployment {KeyParts.Name} has no previous revision to roll back to"
                : $"deployment {KeyParts.Name} has no revision {revision} (known: {string.Join(", ", all.Select(Revision).Order())})");
        }
        var template = WithoutHashLabel(target.Spec.Template);
        var updated = await WriteObjectAsync(d with { Spec = d.Spec with { Template = template } });
        await Services.Events.NormalAsync(updated, "DeploymentRollback", $"Rolled back deployment \"{KeyParts.Name}\" to revision {Revision(target)}", Component);
        return updated;
    }

    /// <summary>The ReplicaSet an automatic rollback runs while spec.template still is the failed one.</summary>
    private static ReplicaSet? RolledBackTarget(Deployment d, IReadOnlyList<ReplicaSet> all)
    {
        if (d.Metadata.Annotation(WellKnown.RolledBackTemplateAnnotation) is not { } failedHash
            || d.Metadata.Annotation(WellKnown.RolledBackToAnnotation) is not { } targetName)
        {
            return null;
        }
        // The hash of the template as it is now, whether or not its ReplicaSet still exists.
        if (TemplateHash(d.Spec.Template, d.Status?.CollisionCount) != failedHash)
        {
            return null;
        }
        return all.FirstOrDefault(rs => rs.Metadata.Name == targetName);
    }

    /// <summary>Once the template changes, an earlier automatic rollback no longer holds.</summary>
    private async Task<Deployment> ClearStaleRollbackAsync(Deployment d)
    {
        if (d.Metadata.Annotation(WellKnown.RolledBackTemplateAnnotation) is not { } failedHash
            || TemplateHash(d.Spec.Template, d.Status?.CollisionCount) == failedHash)
        {
            return d;
        }
        var annotations = (d.Metadata.Annotations ?? new Dictionary<string, string>())
            .Where(kv => kv.Key is not (WellKnown.RolledBackTemplateAnnotation or WellKnown.RolledBackToAnnotation))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        d = await WriteObjectAsync(d with { Metadata = d.Metadata with { Annotations = annotations.Count > 0 ? annotations : null } });
        var conditions = d.Status?.Conditions?.Where(c => c.Type != RolledBack).ToList();
        return await WriteStatusAsync(d with { Status = (d.Status ?? new DeploymentStatus()) with { Conditions = conditions } }) ?? d;
    }

    /// <summary>Checks whether the rollout in progress has failed and, if so, rolls back. Also says
    /// when to check again while the rollout is still under watch.</summary>
    private async Task<(bool RolledBack, ReconcileResult? Recheck)> MaybeRollBackAsync(Deployment d, IReadOnlyList<ReplicaSet> all, Progress progress)
    {
        // A rollout stays under watch until its revision is marked completed, which happens only
        // after the rollback window: "complete" for a moment is not good enough.
        if (d.Metadata.Annotation(WellKnown.AutoRollbackAnnotation) == "false" || RolledBackTarget(d, all) is not null)
        {
            return (false, null);
        }
        var (newRs, olds) = SplitNewAndOld(d, all);
        if (newRs is null || newRs.Metadata.Annotation(WellKnown.StableAnnotation) == "true")
        {
            return (false, null);
        }
        // Roll back to the newest revision that stayed fully available, else the newest that
        // was fully available at least once.
        var completed = olds.Where(rs => rs.Metadata.Annotation(WellKnown.CompletedAnnotation) == "true").ToList();
        var target = completed.Where(rs => rs.Metadata.Annotation(WellKnown.StableAnnotation) == "true").MaxBy(Revision) ?? completed.MaxBy(Revision);
        if (target is null)
        {
            return (false, null);
        }
        var (failed, recheck) = progress.DeadlineExceeded
            ? ($"the rollout made no progress for {d.Spec.ProgressDeadlineSeconds} s (progressDeadlineSeconds)", (TimeSpan?)null)
            : await FailingPodsAsync(d, newRs);
        if (failed is null)
        {
            // Restarts change no ReplicaSet status, so nothing pokes us when a new pod starts
            // crash-looping: while the rollout is in progress, look again every few seconds.
            var poll = TimeSpan.FromSeconds(2);
            return (false, ReconcileResult.After(recheck is { } r && r < poll ? r : poll));
        }
        var annotations = new Dictionary<string, string>(d.Metadata.Annotations ?? new Dictionary<string, string>())
        {
            [WellKnown.RolledBackTemplateAnnotation] = TemplateHash(d.Spec.Template, d.Status?.CollisionCount),
            [WellKnown.RolledBackToAnnotation] = target.Metadata.Name!,
        };
        d = await WriteObjectAsync(d with { Metadata = d.Metadata with { Annotations = annotations } });
        var message = $"Rolled back from revision {Revision(newRs)} to revision {Revision(target)}: {failed}. The failed template is not tried again until spec.template changes.";
        var conditions = Conditions.Set(d.Status?.Conditions, new Condition
        {
            Type = RolledBack,
            Status = ConditionStatus.True,
            Reason = progress.DeadlineExceeded ? "ProgressDeadlineExceeded" : "NewPodsFailing",
            Message = message,
            LastUpdateTime = Now,
        }, Now);
        await WriteStatusAsync(d with { Status = (d.Status ?? new DeploymentStatus()) with { Conditions = conditions } });
        await Services.Events.WarningAsync(d, "RolledBack", message, Component);
        return (true, null);
    }

    /// <summary>Why the new revision's pods are failing, if they are: a pod restarted more than
    /// the allowed number of times, or exists unavailable longer than allowed. Otherwise, when
    /// to look again.</summary>
    private async Task<(string? Reason, TimeSpan? Recheck)> FailingPodsAsync(Deployment d, ReplicaSet newRs)
    {
        var maxRestarts = IntAnnotation(d, WellKnown.RollbackMaxRestartsAnnotation, 3);
        var maxUnavailable = TimeSpan.FromSeconds(IntAnnotation(d, WellKnown.RollbackUnavailableSecondsAnnotation, 180));
        var minReady = d.Spec.MinReadySeconds ?? 0;
        TimeSpan? recheck = null;
        foreach (var pod in (await PodsOfAsync(newRs)).Where(p => p.IsActive()))
        {
            foreach (var c in pod.Status?.ContainerStatuses ?? [])
            {
                if (c.RestartCount > maxRestarts)
                {
                    var why = c.LastState?.Terminated is { } t ? $" (last exit code {t.ExitCode}, {t.Reason})" : "";
                    return ($"pod {pod.Metadata.Name} container {c.Name} restarted {c.RestartCount} times{why}", null);
                }
            }
            if (pod.IsAvailable(minReady, Now))
            {
                continue;
            }
            var age = Now - (pod.Metadata.CreationTimestamp ?? Now);
            if (age > maxUnavailable)
            {
                var waiting = pod.Status?.ContainerStatuses?.Select(c => c.State?.Waiting?.Reason).FirstOrDefault(r => r is not null);
                return ($"pod {pod.Metadata.Name} has not become available in {(int)age.TotalSeconds} s{(waiting is null ? "" : $" ({waiting})")}", null);
            }
            var left = maxUnavailable - age + TimeSpan.FromMilliseconds(100);
            recheck = recheck is { } r && r < left ? r : left;
        }
        return (null, recheck);
    }

    private static int IntAnnotation(Deployment d, string key, int fallback) =>
        int.TryParse(d.Metadata.Annotation(key), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : fallback;
}
