using Orchestrator.Model;

namespace Orchestrator.Grains.Kinds.Printing;

/// <summary>The node, namespace, event and service account tables of Kubernetes' printers.</summary>
public static class ClusterColumns
{
    private const string NodeRolePrefix = "node-role.kubernetes.io/";
    private const string NodeRoleLabel = "kubernetes.io/role";

    public static IReadOnlyList<PrinterColumn<Node>> Node { get; } =
    [
        PrinterColumns.Name<Node>(),
        new("Status", "string", "The status of the node", (n, _) => NodeStatus(n)),
        new("Roles", "string", "The roles of the node", (n, _) => NodeRoles(n)),
        PrinterColumns.Age<Node>(),
        new("Version", "string", "Kubelet Version reported by the node.", (n, _) => n.Status?.NodeInfo?.KubeletVersion ?? ""),
        new PrinterColumn<Node>("Internal-IP", "string", "List of addresses reachable to the node.", (n, _) => Address(n, "InternalIP")).Wide(),
        new PrinterColumn<Node>("External-IP", "string", "List of addresses reachable to the node.", (n, _) => Address(n, "ExternalIP")).Wide(),
        new PrinterColumn<Node>("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", (n, _) => Unknown(n.Status?.NodeInfo?.OsImage)).Wide(),
        new PrinterColumn<Node>("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", (n, _) => Unknown(n.Status?.NodeInfo?.KernelVersion)).Wide(),
        new PrinterColumn<Node>("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", (n, _) => Unknown(n.Status?.NodeInfo?.ContainerRuntimeVersion)).Wide(),
    ];

    public static IReadOnlyList<PrinterColumn<Namespace>> Namespace { get; } =
    [
        PrinterColumns.Name<Namespace>(),
        new("Status", "string", "The status of the namespace", (n, _) => n.Status?.Phase ?? ""),
        PrinterColumns.Age<Namespace>(),
    ];

    public static IReadOnlyList<PrinterColumn<ServiceAccount>> ServiceAccount { get; } =
    [
        PrinterColumns.Name<ServiceAccount>(),
        new("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.", (s, _) => (long)(s.Secrets?.Count ?? 0)),
        PrinterColumns.Age<ServiceAccount>(),
    ];

    /// <summary>Kubernetes' event table: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE and, wide,
    /// SUBOBJECT, SOURCE, FIRST SEEN, COUNT, NAME (the name is a wide column: events are read by
    /// what happened, not by their generated names).</summary>
    public static IReadOnlyList<PrinterColumn<Event>> Event { get; } =
    [
        new("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded.", (e, now) => LastSeen(e, now)),
        new("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future.", (e, _) => e.EventType ?? ""),
        new("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.", (e, _) => e.Reason ?? ""),
        new("Object", "string", "The object that this event is about.", (e, _) => Target(e.InvolvedObject)),
        new PrinterColumn<Event>("Subobject", "string", "The part of the object the event is about, e.g. a container.", (e, _) => e.InvolvedObject.FieldPath ?? "").Wide(),
        new PrinterColumn<Event>("Source", "string", "The component reporting this event.", (e, _) => Source(e)).Wide(),
        new("Message", "string", "A human-readable description of the status of this operation.", (e, _) => (e.Message ?? "").Trim()),
        new PrinterColumn<Event>("First Seen", "string", "The time at which the event was first recorded.", (e, now) => FirstSeen(e, now)).Wide(),
        new PrinterColumn<Event>("Count", "string", "The number of times this event has occurred.", (e, _) => (long)(e.Count is > 0 ? e.Count.Value : 1)).Wide(),
        PrinterColumns.Name<Event>().Wide(),
    ];

    /// <summary>"Ready" / "NotReady" (or "Unknown" without the condition), then
    /// ",SchedulingDisabled" for a cordoned node.</summary>
    private static string NodeStatus(Node node)
    {
        var status = node.ReadyCondition() is { } ready
            ? ready.Status == ConditionStatus.True ? "Ready" : "NotReady"
            : "Unknown";
        return node.Spec.Unschedulable == true ? status + ",SchedulingDisabled" : status;
    }

    /// <summary>Kubernetes' findNodeRoles: the suffixes of node-role.kubernetes.io/ labels and the
    /// value of kubernetes.io/role, sorted.</summary>
    private static string NodeRoles(Node node)
    {
        var roles = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in node.Metadata.Labels ?? new Dictionary<string, string>())
        {
            if (key.StartsWith(NodeRolePrefix, StringComparison.Ordinal) && key.Length > NodeRolePrefix.Length)
            {
                roles.Add(key[NodeRolePrefix.Length..]);
            }
            else if (key == NodeRoleLabel && value.Length > 0)
            {
                roles.Add(value);
            }
        }
        return roles.Count == 0 ? "<none>" : string.Join(",", roles);
    }

    private static string Address(Node node, string type) =>
        node.Status?.Addresses?.FirstOrDefault(a => a.Type == type)?.Address ?? "<none>";

    private static string Unknown(string? value) => string.IsNullOrEmpty(value) ? "<unknown>" : value;

    private static string FirstSeen(Event e, DateTimeOffset now) => Durations.Since(e.FirstTimestamp, now);

    private static string LastSeen(Event e, DateTimeOffset now) =>
        e.LastTimestamp is null ? FirstSeen(e, now) : Durations.Since(e.LastTimestamp, now);

    /// <summary>"kind/name" in lower case kind, as kubectl prints an involved object.</summary>
    private static string Target(ObjectReference o) =>
        string.IsNullOrEmpty(o.Name) ? (o.Kind ?? "").ToLowerInvariant() : $"{(o.Kind ?? "").ToLowerInvariant()}/{o.Name}";

    /// <summary>Kubernetes' formatEventSource: "component, host", or the reporting component.</summary>
    private static string Source(Event e)
    {
        var component = e.Source?.Component is { Length: > 0 } c ? c : e.ReportingComponent ?? "";
        var host = e.Source?.Host is { Length: > 0 } h ? h : e.ReportingInstance ?? "";
        return host.Length > 0 ? $"{component}, {host}" : component;
    }
}
