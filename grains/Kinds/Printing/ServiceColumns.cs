using System.Globalization;
using Orchestrator.Model;

namespace Orchestrator.Grains.Kinds.Printing;

/// <summary>The service and endpoints tables of Kubernetes' printers.</summary>
public static class ServiceColumns
{
    public static IReadOnlyList<PrinterColumn<Service>> Service { get; } =
    [
        PrinterColumns.Name<Service>(),
        new("Type", "string", "The type of the service: ClusterIP or NodePort.", (s, _) => s.Spec.Type ?? ServiceType.ClusterIP),
        new("Cluster-IP", "string", "The IP address of the service inside the cluster.", (s, _) => s.Spec.ClusterIPs is [var first, ..] ? first : PrinterColumns.OrNone(s.Spec.ClusterIP)),
        // Neither ClusterIP nor NodePort services have external addresses here (no externalIPs,
        // no load balancers).
        new("External-IP", "string", "External addresses of the service.", (_, _) => "<none>"),
        new("Port(s)", "string", "The ports the service exposes.", (s, _) => Ports(s.Spec.Ports)),
        PrinterColumns.Age<Service>(),
        new PrinterColumn<Service>("Selector", "string", "The labels of the pods the service routes to.", (s, _) => PrinterColumns.FormatLabels(s.Spec.Selector)).Wide(),
    ];

    public static IReadOnlyList<PrinterColumn<Endpoints>> Endpoints { get; } =
    [
        PrinterColumns.Name<Endpoints>(),
        new("Endpoints", "string", "The addresses and ports of the ready endpoints.", (e, _) => Addresses(e)),
        PrinterColumns.Age<Endpoints>(),
    ];

    /// <summary>Kubernetes' makePortString: "80/TCP", "80:30080/TCP" for a node port.</summary>
    private static string Ports(IReadOnlyList<ServicePort>? ports)
    {
        if (ports is not { Count: > 0 })
        {
            return "<none>";
        }
        return string.Join(",", ports.Select(p => p.NodePort is > 0
            ? $"{p.Port}:{p.NodePort}/{p.Protocol ?? "TCP"}"
            : $"{p.Port}/{p.Protocol ?? "TCP"}"));
    }

    /// <summary>Kubernetes' formatEndpoints: the first three "ip:port", then "+ N more...".</summary>
    private static string Addresses(Endpoints endpoints)
    {
        const int Max = 3;
        if (endpoints.Subsets is not { Count: > 0 })
        {
            return "<none>";
        }
        var list = new List<string>();
        var count = 0;
        foreach (var subset in endpoints.Subsets)
        {
            var addresses = subset.Addresses ?? [];
            if (subset.Ports is not { Count: > 0 })
            {
                count += addresses.Count;
                list.AddRange(addresses.Select(a => a.Ip).Take(Max - list.Count));
                continue;
            }
            foreach (var port in subset.Ports)
            {
                count += addresses.Count;
                list.AddRange(addresses.Select(a => HostPort(a.Ip, port.Port)).Take(Max - list.Count));
            }
        }
        if (count > list.Count)
        {
            return $"{string.Join(",", list)} + {count - Max} more...";
        }
        return list.Count == 0 ? "<none>" : string.Join(",", list);
    }

    private static string HostPort(string ip, int port) =>
        (ip.Contains(':', StringComparison.Ordinal) ? $"[{ip}]" : ip) + ":" + port.ToString(CultureInfo.InvariantCulture);
}
