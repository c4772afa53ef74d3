using Orchestrator.Model;
using Orchestrator.Selectors;

namespace Orchestrator.Validation;

/// <summary>Validation of a Service.</summary>
public static partial class Validator
{
    public static void Service(Service svc, Service? old, FieldErrors e)
    {
        var spec = svc.Spec;
        string[] types = [ServiceType.ClusterIP, ServiceType.NodePort];
        if (spec.Type is { } type && !types.Contains(type))
        {
            e.NotSupported("spec.type", type, types);
        }
        var headless = spec.ClusterIP == "None";
        if (spec.ClusterIP is { Length: > 0 } ip && !headless && !IsIPv4(ip))
        {
            e.Invalid("spec.clusterIP", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
        }
        if (headless && spec.Type == ServiceType.NodePort)
        {
            e.Invalid("spec.clusterIP", "None", "may not be set to 'None' for NodePort services");
        }
        if (spec.ClusterIPs is { Count: > 0 } ips && spec.ClusterIP is { Length: > 0 } first && ips[0] != first)
        {
            e.Invalid("spec.clusterIPs[0]", ips[0], "must be same as `clusterIP`");
        }
        if (spec.Ports is null || spec.Ports.Count == 0)
        {
            if (!headless)
            {
                e.Required("spec.ports");
            }
        }
        else
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            var ports = new HashSet<(int, string)>();
            for (var i = 0; i < spec.Ports.Count; i++)
            {
                var p = spec.Ports[i];
                var pp = $"spec.ports[{i}]";
                if (string.IsNullOrEmpty(p.Name))
                {
                    if (spec.Ports.Count > 1)
                    {
                        e.Required($"{pp}.name");
                    }
                }
                else
                {
                    SiblingName(p.Name, $"{pp}.name", names, e);
                }
                if (!Names.IsValidPortNumber(p.Port))
                {
                    e.Invalid($"{pp}.port", p.Port, "must be between 1 and 65535, inclusive");
                }
                var proto = p.Protocol ?? "TCP";
                if (!Protocols.Contains(proto))
                {
                    e.NotSupported($"{pp}.protocol", proto, Protocols);
                }
                if (!ports.Add((p.Port, proto)))
                {
                    e.Duplicate(pp, $"{p.Port}/{proto}");
                }
                if (p.TargetPort is { } tp)
                {
                    ProbePort(tp, $"{pp}.targetPort", e);
                }
                if (p.NodePort is { } np)
                {
                    if (spec.Type != ServiceType.NodePort)
                    {
                        e.Forbidden($"{pp}.nodePort", "may not be used when `type` is 'ClusterIP'");
                    }
                    else if (!Names.IsValidPortNumber(np))
                    {
                        e.Invalid($"{pp}.nodePort", np, "must be between 1 and 65535, inclusive");
                    }
                }
            }
        }
        Labels(spec.Selector, "spec.selector", e);
        string[] affinities = ["None", "ClientIP"];
        if (spec.SessionAffinity is { } aff && !affinities.Contains(aff))
        {
            e.NotSupported("spec.sessionAffinity", aff, affinities);
        }
        if (spec.SessionAffinityConfig?.ClientIP?.TimeoutSeconds is { } timeout)
        {
            if (spec.SessionAffinity != "ClientIP")
            {
                e.Invalid("spec.sessionAffinityConfig", "", "must not be set when session affinity is None");
            }
            else if (timeout is < 1 or > 86400)
            {
                e.Invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout, "must be greater than 0 and less than 86400");
            }
        }
        if (old?.Spec.ClusterIP is { Length: > 0 } oldIp && !string.IsNullOrEmpty(spec.ClusterIP) && spec.ClusterIP != oldIp)
        {
            e.Invalid("spec.clusterIP", spec.ClusterIP, "field is immutable");
        }
    }
}
