using Orchestrator.Model;

namespace Orchestrator.Grains.Kinds.Printing;

/// <summary>The pod table of Kubernetes' printPod: NAME, READY, STATUS, RESTARTS, AGE and, wide,
/// IP, NODE, NOMINATED NODE, READINESS GATES.</summary>
public static class PodColumns
{
    public static IReadOnlyList<PrinterColumn<Pod>> All { get; } =
    [
        PrinterColumns.Name<Pod>(),
        new("Ready", "string", "The aggregate readiness state of this pod for accepting traffic.", (p, _) => Ready(p)),
        new("Status", "string", "The aggregate status of the containers in this pod.", (p, _) => Status(p)),
        new("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", Restarts),
        PrinterColumns.Age<Pod>(),
        new PrinterColumn<Pod>("IP", "string", "IP address allocated to the pod.", (p, _) => PrinterColumns.OrNone(p.Status?.PodIPs is [var first, ..] ? first.Ip : p.Status?.PodIP)).Wide(),
        new PrinterColumn<Pod>("Node", "string", "The node the pod is bound to.", (p, _) => PrinterColumns.OrNone(p.Spec.NodeName)).Wide(),
        // This scheduler does not preempt, so no pod is ever nominated to a node.
        new PrinterColumn<Pod>("Nominated Node", "string", "The node a preempting pod is expected to run on.", (_, _) => "<none>").Wide(),
        // Pods here have no readiness gates.
        new PrinterColumn<Pod>("Readiness Gates", "string", "Conditions evaluated for pod readiness besides the containers'.", (_, _) => "<none>").Wide(),
    ];

    /// <summary>"ready/total": containers ready and running, of the spec's containers.</summary>
    private static string Ready(Pod pod)
    {
        var ready = (pod.Status?.ContainerStatuses ?? []).Count(c => c.Ready && c.State?.Running is not null && Reason(c) is null);
        return $"{ready}/{pod.Spec.Containers.Count}";
    }

    /// <summary>
    /// Kubernetes' STATUS: the phase, or the pod's reason, overridden by the last container (in
    /// reverse order, so the first container wins) that is waiting or terminated with a reason
    /// ("ContainerCreating", "CrashLoopBackOff", "Completed", "Error", "ExitCode:N"); "Completed"
    /// with a container still running reads "Running" or "NotReady"; a pod being deleted reads
    /// "Terminating" (or "Unknown" when its node is unreachable).
    /// </summary>
    public static string Status(Pod pod)
    {
        var reason = pod.Status?.Phase ?? "";
        if (!string.IsNullOrEmpty(pod.Status?.Reason))
        {
            reason = pod.Status.Reason;
        }
        var hasRunning = false;
        var statuses = pod.Status?.ContainerStatuses ?? [];
        for (var i = statuses.Count - 1; i >= 0; i--)
        {
            var container = statuses[i];
            if (Reason(container) is { } containerReason)
            {
                reason = containerReason;
            }
            else if (container.Ready && container.State?.Running is not null)
            {
                hasRunning = true;
            }
        }
        if (reason == "Completed" && hasRunning)
        {
            reason = pod.IsReady() ? "Running" : "NotReady";
        }
        if (pod.Metadata.DeletionTimestamp is not null && pod.Status?.Reason == "NodeLost")
        {
            reason = "Unknown";
        }
        else if (pod.Metadata.DeletionTimestamp is not null && !pod.IsTerminal())
        {
            reason = "Terminating";
        }
        return reason;
    }

    /// <summary>A container's waiting or terminated reason, as printPod reads it; null when it is
    /// neither.</summary>
    private static string? Reason(ContainerStatus container)
    {
        if (container.State?.Waiting is { Reason: { Length: > 0 } waiting })
        {
            return waiting;
        }
        if (container.State?.Terminated is { } terminated)
        {
            return terminated.Reason is { Length: > 0 } r ? r
                : terminated.Signal is { } signal and not 0 ? $"Signal:{signal}"
                : $"ExitCode:{terminated.ExitCode}";
        }
        return null;
    }

    /// <summary>The containers' restarts, with how long ago the last one ended: "2 (5m ago)".</summary>
    private static string Restarts(Pod pod, DateTimeOffset now)
    {
        var restarts = 0;
        DateTimeOffset? last = null;
        foreach (var container in pod.Status?.ContainerStatuses ?? [])
        {
            restarts += container.RestartCount;
            if (container.LastState?.Terminated?.FinishedAt is { } finished && (last is null || finished > last))
            {
                last = finished;
            }
        }
        return restarts != 0 && last is not null ? $"{restarts} ({Durations.Since(last, now)} ago)" : restarts.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
