using Orchestrator.Model;
using Orchestrator.Selectors;

namespace Orchestrator.Grains.Kinds.Printing;

/// <summary>The deployment and replica set tables of Kubernetes' printers.</summary>
public static class AppsColumns
{
    public static IReadOnlyList<PrinterColumn<Deployment>> Deployment { get; } =
    [
        PrinterColumns.Name<Deployment>(),
        new("Ready", "string", "Number of the pod with ready state", (d, _) => $"{d.Status?.ReadyReplicas ?? 0}/{d.Spec.Replicas ?? 1}"),
        new("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", (d, _) => (long)(d.Status?.UpdatedReplicas ?? 0)),
        new("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", (d, _) => (long)(d.Status?.AvailableReplicas ?? 0)),
        PrinterColumns.Age<Deployment>(),
        .. TemplateColumns<Deployment>(d => d.Spec.Template, d => d.Spec.Selector),
    ];

    public static IReadOnlyList<PrinterColumn<ReplicaSet>> ReplicaSet { get; } =
    [
        PrinterColumns.Name<ReplicaSet>(),
        new("Desired", "integer", "Number of desired pods.", (r, _) => (long)(r.Spec.Replicas ?? 1)),
        new("Current", "integer", "Number of actual pods.", (r, _) => (long)(r.Status?.Replicas ?? 0)),
        new("Ready", "integer", "Number of ready pods.", (r, _) => (long)(r.Status?.ReadyReplicas ?? 0)),
        PrinterColumns.Age<ReplicaSet>(),
        .. TemplateColumns<ReplicaSet>(r => r.Spec.Template, r => r.Spec.Selector),
    ];

    /// <summary>The wide CONTAINERS, IMAGES and SELECTOR of a workload with a pod template.</summary>
    private static IEnumerable<PrinterColumn<T>> TemplateColumns<T>(Func<T, PodTemplateSpec> template, Func<T, LabelSelector?> selector) =>
    [
        new PrinterColumn<T>("Containers", "string", "Names of each container in the template.", (o, _) => string.Join(",", template(o).Spec.Containers.Select(c => c.Name))).Wide(),
        new PrinterColumn<T>("Images", "string", "Images referenced by each container in the template.", (o, _) => string.Join(",", template(o).Spec.Containers.Select(c => c.Image))).Wide(),
        new PrinterColumn<T>("Selector", "string", "Label query over pods that should match the replicas count.", (o, _) => selector(o) is { } s ? Selector.From(s).ToString() : "").Wide(),
    ];
}
