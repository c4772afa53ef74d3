using Orchestrator.Model;

namespace Orchestrator.NodeAgent.Proxy;

/// <summary>One service port as the proxier routes it: where it answers and where it sends.</summary>
/// <param name="Name">"namespace/service:port" (the port's name, or its number when it has none);
/// chain names are hashed from it, and rule comments show it.</param>
/// <param name="AffinitySeconds">ClientIP session affinity's timeout; null without affinity.</param>
/// <param name="Endpoints">Ready endpoints, ordered by address.</param>
public sealed record ServicePortRoute(
    string Name,
    string ClusterIP,
    string Protocol,
    int Port,
    int? NodePort,
    int? AffinitySeconds,
    IReadOnlyList<ProxyEndpoint> Endpoints);

/// <param name="Local">The pod runs on this node: only such a pod can reach itself through the
/// service (hairpin), which is what needs masquerading.</param>
public sealed record ProxyEndpoint(string Ip, int Port, bool Local);

/// <summary>
/// Joins Services with their Endpoints into the routes a node programs, as kube-proxy's service
/// and endpoints change trackers do: services without a ClusterIP (headless) or of other types
/// get none; a port gets the ready addresses of the subsets that carry a port of the same name
/// and protocol; a port without any ready endpoint gets no route at all.
/// </summary>
public static class ServiceRoutes
{
    public static IReadOnlyList<ServicePortRoute> Build(IEnumerable<Service> services, IReadOnlyDictionary<string, Endpoints> endpoints, string nodeName)
    {
        var routes = new List<ServicePortRoute>();
        foreach (var svc in services)
        {
            var spec = svc.Spec;
            if (spec.ClusterIP is not { Length: > 0 } clusterIP || clusterIP == "None" || svc.Metadata.DeletionTimestamp is not null)
            {
                continue;
            }
            if (spec.Type is { Length: > 0 } type && type != ServiceType.ClusterIP && type != ServiceType.NodePort)
            {
                continue;
            }
            var key = svc.Key();
            var subsets = endpoints.TryGetValue(key, out var ep) ? ep.Subsets ?? [] : [];
            int? affinity = spec.SessionAffinity == "ClientIP"
                ? spec.SessionAffinityConfig?.ClientIP?.TimeoutSeconds ?? 10800
                : null;
            foreach (var port in spec.Ports ?? [])
            {
                var protocol = string.IsNullOrEmpty(port.Protocol) ? "TCP" : port.Protocol;
                var targets = new SortedDictionary<(uint, int), ProxyEndpoint>();
                foreach (var subset in subsets)
                {
                    var match = subset.Ports?.FirstOrDefault(p => (p.Name ?? "") == (port.Name ?? "") && (p.Protocol ?? "TCP") == protocol);
                    if (match is null)
                    {
                        continue;
                    }
                    foreach (var address in subset.Addresses ?? [])
                    {
                        if (!System.Net.IPAddress.TryParse(address.Ip, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                        {
                            continue;
                        }
                        // A user-written Endpoints object may name no node: treat it as local, which
                        // at worst masquerades a packet that did not need it.
                        var local = address.NodeName is null || address.NodeName == nodeName;
                        targets.TryAdd((Cidr.ToUInt(ip), match.Port), new ProxyEndpoint(address.Ip, match.Port, local));
                    }
                }
                if (targets.Count == 0)
                {
                    continue;
                }
                var portName = string.IsNullOrEmpty(port.Name) ? port.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) : port.Name;
                routes.Add(new ServicePortRoute(
                    $"{key}:{portName}",
                    clusterIP,
                    protocol,
                    port.Port,
                    spec.Type == ServiceType.NodePort ? port.NodePort : null,
                    affinity,
                    [.. targets.Values]));
            }
        }
        routes.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return routes;
    }
}
