using Orchestrator.Model;
using Orchestrator.Selectors;

namespace Orchestrator.Validation;

/// <summary>Validation of a Pod.</summary>
public static partial class Validator
{
    public static void Pod(Pod pod, Pod? old, FieldErrors e)
    {
        PodSpec(pod.Spec, "spec", e);
        if (old is null)
        {
            return;
        }
        // Kubernetes allows only a few pod spec fields to change after creation.
        var allowed = old.Spec with
        {
            Containers = pod.Spec.Containers.Count == old.Spec.Containers.Count
                ? old.Spec.Containers.Zip(pod.Spec.Containers, (o, n) => o with { Image = n.Image }).ToList()
                : old.Spec.Containers,
            Tolerations = pod.Spec.Tolerations,
            TerminationGracePeriodSeconds = pod.Spec.TerminationGracePeriodSeconds,
        };
        if (!Serialization.ResourceJson.DeepEquals(allowed, pod.Spec))
        {
            e.Forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds`");
        }
        if (old.Spec.Tolerations is { } oldTolerations)
        {
            var now = pod.Spec.Tolerations ?? [];
            foreach (var t in oldTolerations)
            {
                if (!now.Any(n => Serialization.ResourceJson.DeepEquals(n, t)))
                {
                    e.Forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds");
                    break;
                }
            }
        }
    }

    public static void PodSpec(PodSpec spec, string path, FieldErrors e)
    {
        var volumeNames = new HashSet<string>(StringComparer.Ordinal);
        if (spec.Volumes is { } volumes)
        {
            for (var i = 0; i < volumes.Count; i++)
            {
                Volume(volumes[i], $"{path}.volumes[{i}]", volumeNames, e);
            }
        }

        if (spec.Containers.Count == 0)
        {
            e.Required($"{path}.containers");
        }
        var containerNames = new HashSet<string>(StringComparer.Ordinal);
        var portNames = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < spec.Containers.Count; i++)
        {
            Container(spec.Containers[i], $"{path}.containers[{i}]", containerNames, portNames, volumeNames, e);
        }

        if (spec.RestartPolicy is { } rp && !RestartPolicies.Contains(rp))
        {
            e.NotSupported($"{path}.restartPolicy", rp, RestartPolicies);
        }
        if (spec.TerminationGracePeriodSeconds is < 0)
        {
            e.Invalid($"{path}.terminationGracePeriodSeconds", spec.TerminationGracePeriodSeconds, "must be greater than or equal to 0");
        }
        Labels(spec.NodeSelector, $"{path}.nodeSelector", e);
        if (!string.IsNullOrEmpty(spec.ServiceAccountName))
        {
            foreach (var msg in Names.Dns1123Subdomain(spec.ServiceAccountName))
            {
                e.Invalid($"{path}.serviceAccountName", spec.ServiceAccountName, msg);
            }
        }
        if (!string.IsNullOrEmpty(spec.NodeName))
        {
            foreach (var msg in Names.Dns1123Subdomain(spec.NodeName))
            {
                e.Invalid($"{path}.nodeName", spec.NodeName, msg);
            }
        }
        if (spec.Tolerations is { } tolerations)
        {
            for (var i = 0; i < tolerations.Count; i++)
            {
                Toleration(tolerations[i], $"{path}.tolerations[{i}]", e);
            }
        }
        PodSecurity(spec, path, e);
    }

    private static void Volume(Volume v, string path, HashSet<string> names, FieldErrors e)
    {
        if (string.IsNullOrEmpty(v.Name))
        {
            e.Required($"{path}.name");
        }
        else
        {
            SiblingName(v.Name, $"{path}.name", names, e);
        }
        var sources = (v.EmptyDir is null ? 0 : 1) + (v.HostPath is null ? 0 : 1);
        if (sources == 0)
        {
            e.Required(path, "must specify a volume type (emptyDir or hostPath)");
        }
        else if (sources > 1)
        {
            e.Forbidden($"{path}.hostPath", "may not specify more than 1 volume type");
        }
        if (v.EmptyDir is { } ed)
        {
            if (ed.Medium is { Length: > 0 } m && m != "Memory")
            {
                e.NotSupported($"{path}.emptyDir.medium", m, ["", "Memory"]);
            }
            if (ed.SizeLimit is { } limit && (!limit.IsValid || limit.Value < 0))
            {
                e.Invalid($"{path}.emptyDir.sizeLimit", limit.Text, "must be a non-negative quantity such as \"1Gi\"");
            }
        }
        if (v.HostPath is { } hp)
        {
            if (string.IsNullOrEmpty(hp.Path))
            {
                e.Required($"{path}.hostPath.path");
            }
            else if (!hp.Path.StartsWith('/'))
            {
                e.Invalid($"{path}.hostPath.path", hp.Path, "must be an absolute path");
            }
            else if (hp.Path.Split('/').Contains(".."))
            {
                e.Invalid($"{path}.hostPath.path", hp.Path, "must not contain '..'");
            }
            string[] types = ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File"];
            if (hp.Type is { } t && !types.Contains(t))
            {
                e.NotSupported($"{path}.hostPath.type", t, types);
            }
        }
    }

    private static void Container(Container c, string path, HashSet<string> names, HashSet<string> portNames, HashSet<string> volumes, FieldErrors e)
    {
        if (string.IsNullOrEmpty(c.Name))
        {
            e.Required($"{path}.name");
        }
        else
        {
            SiblingName(c.Name, $"{path}.name", names, e);
        }
        if (string.IsNullOrWhiteSpace(c.Image))
        {
            e.Required($"{path}.image");
        }
        else if (c.Image.Any(ch => char.IsWhiteSpace(ch) || char.IsControl(ch)))
        {
            e.Invalid($"{path}.image", c.Image, "must not contain whitespace");
        }
        if (c.ImagePullPolicy is { } pull && !PullPolicies.Contains(pull))
        {
            e.NotSupported($"{path}.imagePullPolicy", pull, PullPolicies);
        }
        if (c.WorkingDir is { Length: > 0 } wd && !wd.StartsWith('/'))
        {
            e.Invalid($"{path}.workingDir", wd, "must be an absolute path");
        }
        if (c.Env is { } env)
        {
            for (var i = 0; i < env.Count; i++)
            {
                if (string.IsNullOrEmpty(env[i].Name))
                {
                    e.Required($"{path}.env[{i}].name");
                    continue;
                }
                foreach (var msg in Names.EnvVarName(env[i].Name))
                {
                    e.Invalid($"{path}.env[{i}].name", env[i].Name, msg);
                }
            }
        }
        if (c.Ports is { } ports)
        {
            for (var i = 0; i < ports.Count; i++)
            {
                var p = ports[i];
                var pp = $"{path}.ports[{i}]";
                if (!Names.IsValidPortNumber(p.Port))
                {
                    e.Invalid($"{pp}.containerPort", p.Port, "must be between 1 and 65535, inclusive");
                }
                if (p.Protocol is { } proto && !Protocols.Contains(proto))
                {
                    e.NotSupported($"{pp}.protocol", proto, Protocols);
                }
                if (!string.IsNullOrEmpty(p.Name))
                {
                    foreach (var msg in Names.PortName(p.Name))
                    {
                        e.Invalid($"{pp}.name", p.Name, msg);
                    }
                    if (!portNames.Add(p.Name))
                    {
                        e.Duplicate($"{pp}.name", p.Name);
                    }
                }
            }
        }
        if (c.Resources is { } res)
        {
            Resources(res.Requests, $"{path}.resources.requests", e);
            Resources(res.Limits, $"{path}.resources.limits", e);
            if (res.Requests is { } req && res.Limits is { } lim)
            {
                foreach (var (name, q) in req)
                {
                    if (lim.TryGetValue(name, out var l) && q.IsValid && l.IsValid && q.Value > l.Value)
                    {
                        e.Invalid($"{path}.resources.requests[{name}]", q.Text, $"must be less than or equal to {name} limit of {l.Text}");
                    }
                }
            }
        }
        Probe(c.LivenessProbe, $"{path}.livenessProbe", e, successMustBeOne: true);
        Probe(c.ReadinessProbe, $"{path}.readinessProbe", e, successMustBeOne: false);
        Probe(c.StartupProbe, $"{path}.startupProbe", e, successMustBeOne: true);
        if (c.VolumeMounts is { } mounts)
        {
            var paths = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < mounts.Count; i++)
            {
                var m = mounts[i];
                var mp = $"{path}.volumeMounts[{i}]";
                if (string.IsNullOrEmpty(m.Name))
                {
                    e.Required($"{mp}.name");
                }
                else if (!volumes.Contains(m.Name))
                {
                    e.NotFound($"{mp}.name", m.Name);
                }
                if (string.IsNullOrEmpty(m.MountPath))
                {
                    e.Required($"{mp}.mountPath");
                }
                else if (!m.MountPath.StartsWith('/'))
                {
                    e.Invalid($"{mp}.mountPath", m.MountPath, "must be an absolute path");
                }
                else if (!paths.Add(m.MountPath))
                {
                    e.Invalid($"{mp}.mountPath", m.MountPath, "must be unique");
                }
                if (m.SubPath is { Length: > 0 } sub && (sub.StartsWith('/') || sub.Split('/').Contains("..")))
                {
                    e.Invalid($"{mp}.subPath", sub, "must be a relative path without '..'");
                }
            }
        }
    }

    private static void NotFound(this FieldErrors e, string path, string value) =>
        e.Add("FieldValueNotFound", path, $"Not found: \"{value}\"");

    private static void Resources(IReadOnlyDictionary<string, Quantity>? list, string path, FieldErrors e)
    {
        if (list is null)
        {
            return;
        }
        foreach (var (name, q) in list)
        {
            if (!ContainerResources.Contains(name))
            {
                e.NotSupported($"{path}[{name}]", name, ContainerResources);
                continue;
            }
            if (!q.IsValid)
            {
                e.Invalid($"{path}[{name}]", q.Text, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
            }
            else if (q.Value < 0)
            {
                e.Invalid($"{path}[{name}]", q.Text, "must be greater than or equal to 0");
            }
        }
    }

    private static void Probe(Probe? probe, string path, FieldErrors e, bool successMustBeOne)
    {
        if (probe is null)
        {
            return;
        }
        var handlers = (probe.Exec is null ? 0 : 1) + (probe.HttpGet is null ? 0 : 1) + (probe.TcpSocket is null ? 0 : 1);
        if (handlers == 0)
        {
            e.Required(path, "must specify a handler type");
        }
        else if (handlers > 1)
        {
            e.Forbidden(path, "may not specify more than 1 handler type");
        }
        if (probe.Exec is { } exec && (exec.Command is null || exec.Command.Count == 0))
        {
            e.Required($"{path}.exec.command");
        }
        if (probe.HttpGet is { } http)
        {
            ProbePort(http.Port, $"{path}.httpGet.port", e);
            if (http.Scheme is { } scheme && scheme is not ("HTTP" or "HTTPS"))
            {
                e.NotSupported($"{path}.httpGet.scheme", scheme, ["HTTP", "HTTPS"]);
            }
            if (http.Path is { Length: > 0 } p && !p.StartsWith('/'))
            {
                e.Invalid($"{path}.httpGet.path", p, "must be an absolute path");
            }
        }
        if (probe.TcpSocket is { } tcp)
        {
            ProbePort(tcp.Port, $"{path}.tcpSocket.port", e);
        }
        NonNegative(probe.InitialDelaySeconds, $"{path}.initialDelaySeconds", e);
        Positive(probe.TimeoutSeconds, $"{path}.timeoutSeconds", e);
        Positive(probe.PeriodSeconds, $"{path}.periodSeconds", e);
        Positive(probe.SuccessThreshold, $"{path}.successThreshold", e);
        Positive(probe.FailureThreshold, $"{path}.failureThreshold", e);
        if (successMustBeOne && probe.SuccessThreshold is > 1)
        {
            e.Invalid($"{path}.successThreshold", probe.SuccessThreshold, "must be 1");
        }
    }

    private static void ProbePort(IntOrString port, string path, FieldErrors e)
    {
        if (port.IsInt)
        {
            if (!Names.IsValidPortNumber(port.IntValue ?? 0))
            {
                e.Invalid(path, port.IntValue ?? 0, "must be between 1 and 65535, inclusive");
            }
        }
        else
        {
            foreach (var msg in Names.PortName(port.StringValue!))
            {
                e.Invalid(path, port.StringValue, msg);
            }
        }
    }


    private static void Toleration(Toleration t, string path, FieldErrors e)
    {
        if (!string.IsNullOrEmpty(t.Key))
        {
            foreach (var msg in Names.QualifiedName(t.Key))
            {
                e.Invalid($"{path}.key", t.Key, msg);
            }
        }
        switch (t.Operator)
        {
            case null or "" or "Equal":
                if (string.IsNullOrEmpty(t.Key))
                {
                    e.Invalid($"{path}.operator", t.Operator ?? "", "operator must be Exists when `key` is empty, which means \"match all values and all keys\"");
                }
                if (!string.IsNullOrEmpty(t.Value))
                {
                    foreach (var msg in Names.LabelValue(t.Value))
                    {
                        e.Invalid($"{path}.value", t.Value, msg);
                    }
                }
                break;
            case "Exists":
                if (!string.IsNullOrEmpty(t.Value))
                {
                    e.Invalid($"{path}.value", t.Value, "value must be empty when `operator` is 'Exists'");
                }
                break;
            default:
                e.NotSupported($"{path}.operator", t.Operator, ["Equal", "Exists"]);
                break;
        }
        if (!string.IsNullOrEmpty(t.Effect) && !TaintEffects.Contains(t.Effect))
        {
            e.NotSupported($"{path}.effect", t.Effect, TaintEffects);
        }
        if (t.TolerationSeconds is not null && t.Effect != TaintEffect.NoExecute)
        {
            e.Invalid($"{path}.effect", t.Effect ?? "", "effect must be 'NoExecute' when `tolerationSeconds` is set");
        }
    }
}
