using System.Net;
using System.Net.Sockets;
using Orchestrator.Model;
using Orchestrator.Selectors;

namespace Orchestrator.Validation;

/// <summary>
/// Kubernetes' validation for the kinds we serve. Every check adds to one
/// <see cref="FieldErrors"/> instead of stopping, so a client hears every problem at once.
/// </summary>
public static class Validator
{
    public const int MaxAnnotationsBytes = 256 * 1024;
    public const int MaxReplicas = 1_000_000;

    private static readonly string[] Protocols = ["TCP", "UDP", "SCTP"];
    private static readonly string[] PullPolicies = ["Always", "IfNotPresent", "Never"];
    private static readonly string[] RestartPolicies = [RestartPolicy.Always, RestartPolicy.OnFailure, RestartPolicy.Never];
    private static readonly string[] TaintEffects = [TaintEffect.NoSchedule, TaintEffect.PreferNoSchedule, TaintEffect.NoExecute];
    private static readonly string[] ContainerResources = [ResourceName.Cpu, ResourceName.Memory, ResourceName.EphemeralStorage];

    /// <summary>Validates metadata and then the kind's own rules; <paramref name="old"/> is the stored
    /// object on update, null on create.</summary>
    public static FieldErrors Validate<T>(T obj, T? old) where T : class, IResource<T>
    {
        var errors = new FieldErrors();
        ObjectMeta(obj.Metadata, T.Type, old?.Metadata, errors);
        T.Validate(obj, old, errors);
        return errors;
    }

    public static void ObjectMeta(ObjectMeta meta, ResourceType type, ObjectMeta? old, FieldErrors e)
    {
        if (string.IsNullOrEmpty(meta.Name))
        {
            if (string.IsNullOrEmpty(meta.GenerateName) || old is not null)
            {
                e.Required("metadata.name", "name or generateName is required");
            }
            else
            {
                // Kubernetes checks the prefix as a name with its trailing dash removed.
                var prefix = meta.GenerateName.TrimEnd('-');
                foreach (var msg in NameRules(type, prefix.Length == 0 ? "a" : prefix))
                {
                    e.Invalid("metadata.generateName", meta.GenerateName, msg);
                }
            }
        }
        else
        {
            foreach (var msg in NameRules(type, meta.Name))
            {
                e.Invalid("metadata.name", meta.Name, msg);
            }
        }

        if (type.Namespaced)
        {
            if (string.IsNullOrEmpty(meta.Namespace))
            {
                e.Required("metadata.namespace");
            }
            else
            {
                foreach (var msg in Names.Dns1123Label(meta.Namespace))
                {
                    e.Invalid("metadata.namespace", meta.Namespace, msg);
                }
            }
        }
        else if (!string.IsNullOrEmpty(meta.Namespace))
        {
            e.Forbidden("metadata.namespace", "not allowed on this type");
        }

        Labels(meta.Labels, "metadata.labels", e);
        Annotations(meta.Annotations, "metadata.annotations", e);

        if (meta.OwnerReferences is { } owners)
        {
            var controllers = 0;
            for (var i = 0; i < owners.Count; i++)
            {
                var o = owners[i];
                var p = $"metadata.ownerReferences[{i}]";
                if (string.IsNullOrEmpty(o.ApiVersion))
                {
                    e.Invalid($"{p}.apiVersion", o.ApiVersion, "version must not be empty");
                }
                if (string.IsNullOrEmpty(o.Kind))
                {
                    e.Invalid($"{p}.kind", o.Kind, "kind must not be empty");
                }
                if (string.IsNullOrEmpty(o.Name))
                {
                    e.Invalid($"{p}.name", o.Name, "name must not be empty");
                }
                if (string.IsNullOrEmpty(o.Uid))
                {
                    e.Invalid($"{p}.uid", o.Uid, "uid must not be empty");
                }
                if (o.Controller == true)
                {
                    controllers++;
                }
            }
            if (controllers > 1)
            {
                e.Invalid("metadata.ownerReferences", controllers, "Only one reference can have Controller set to true");
            }
        }

        if (meta.Finalizers is { } finalizers)
        {
            for (var i = 0; i < finalizers.Count; i++)
            {
                foreach (var msg in Names.QualifiedName(finalizers[i]))
                {
                    e.Invalid($"metadata.finalizers[{i}]", finalizers[i], msg);
                }
            }
        }

        if (meta.Generation is < 0)
        {
            e.Invalid("metadata.generation", meta.Generation, "must be greater than or equal to 0");
        }

        if (old is not null)
        {
            Immutable(meta.Name, old.Name, "metadata.name", e);
            Immutable(meta.Namespace, old.Namespace, "metadata.namespace", e);
            if (!string.IsNullOrEmpty(meta.Uid))
            {
                Immutable(meta.Uid, old.Uid, "metadata.uid", e);
            }
        }
    }

    private static IReadOnlyList<string> NameRules(ResourceType type, string name)
    {
        if (type == ResourceTypes.Namespace)
        {
            return Names.Dns1123Label(name);
        }
        if (type == ResourceTypes.Service)
        {
            return Names.Dns1035Label(name);
        }
        return Names.Dns1123Subdomain(name);
    }

    public static void Labels(IReadOnlyDictionary<string, string>? labels, string path, FieldErrors e)
    {
        if (labels is null)
        {
            return;
        }
        foreach (var (key, value) in labels)
        {
            foreach (var msg in Names.QualifiedName(key))
            {
                e.Invalid(path, key, msg);
            }
            foreach (var msg in Names.LabelValue(value ?? ""))
            {
                e.Invalid($"{path}[{key}]", value, msg);
            }
        }
    }

    private static void Annotations(IReadOnlyDictionary<string, string>? annotations, string path, FieldErrors e)
    {
        if (annotations is null)
        {
            return;
        }
        long size = 0;
        foreach (var (key, value) in annotations)
        {
            foreach (var msg in Names.QualifiedName(key))
            {
                e.Invalid(path, key, msg);
            }
            size += key.Length + (value?.Length ?? 0);
        }
        if (size > MaxAnnotationsBytes)
        {
            e.Add("FieldValueTooLong", path, $"Too long: must have at most {MaxAnnotationsBytes} bytes");
        }
    }

    private static void Immutable<TValue>(TValue value, TValue old, string path, FieldErrors e)
    {
        if (!EqualityComparer<TValue>.Default.Equals(value, old))
        {
            e.Invalid(path, value, "field is immutable");
        }
    }

    // ---------------------------------------------------------------- Pod

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
    }

    private static void Volume(Volume v, string path, HashSet<string> names, FieldErrors e)
    {
        if (string.IsNullOrEmpty(v.Name))
        {
            e.Required($"{path}.name");
        }
        else
        {
            foreach (var msg in Names.Dns1123Label(v.Name))
            {
                e.Invalid($"{path}.name", v.Name, msg);
            }
            if (!names.Add(v.Name))
            {
                e.Duplicate($"{path}.name", v.Name);
            }
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
            foreach (var msg in Names.Dns1123Label(c.Name))
            {
                e.Invalid($"{path}.name", c.Name, msg);
            }
            if (!names.Add(c.Name))
            {
                e.Duplicate($"{path}.name", c.Name);
            }
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

    private static void NonNegative(long? value, string path, FieldErrors e)
    {
        if (value is < 0)
        {
            e.Invalid(path, value, "must be greater than or equal to 0");
        }
    }

    private static void Positive(long? value, string path, FieldErrors e)
    {
        if (value is < 1)
        {
            e.Invalid(path, value, "must be greater than or equal to 1");
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

    // ---------------------------------------------------------------- Node, Namespace

    public static void Node(Node node, Node? old, FieldErrors e)
    {
        if (node.Spec.Taints is { } taints)
        {
            var seen = new HashSet<(string, string)>();
            for (var i = 0; i < taints.Count; i++)
            {
                var t = taints[i];
                var p = $"spec.taints[{i}]";
                foreach (var msg in Names.QualifiedName(t.Key))
                {
                    e.Invalid($"{p}.key", t.Key, msg);
                }
                if (!string.IsNullOrEmpty(t.Value))
                {
                    foreach (var msg in Names.LabelValue(t.Value))
                    {
                        e.Invalid($"{p}.value", t.Value, msg);
                    }
                }
                if (!TaintEffects.Contains(t.Effect))
                {
                    e.NotSupported($"{p}.effect", t.Effect, TaintEffects);
                }
                if (!seen.Add((t.Key, t.Effect)))
                {
                    e.Duplicate(p, $"{t.Key}:{t.Effect}");
                }
            }
        }
        if (node.Spec.PodCIDR is { Length: > 0 } cidr && !Cidr.TryParse(cidr, out _))
        {
            e.Invalid("spec.podCIDR", cidr, "must be a CIDR such as 10.244.1.0/24");
        }
        if (old?.Spec.PodCIDR is { Length: > 0 } oldCidr && node.Spec.PodCIDR != oldCidr)
        {
            e.Forbidden("spec.podCIDR", "node updates may not change podCIDR except from \"\" to valid");
        }
        if (node.Status is { } status)
        {
            foreach (var (list, name) in new[] { (status.Capacity, "capacity"), (status.Allocatable, "allocatable") })
            {
                if (list is null)
                {
                    continue;
                }
                foreach (var (key, q) in list)
                {
                    if (!q.IsValid || q.Value < 0)
                    {
                        e.Invalid($"status.{name}[{key}]", q.Text, "must be a non-negative quantity");
                    }
                }
            }
        }
    }

    public static void Namespace(Namespace ns, Namespace? old, FieldErrors e)
    {
        if (ns.Status?.Phase is { } phase && phase is not ("Active" or "Terminating"))
        {
            e.NotSupported("status.phase", phase, ["Active", "Terminating"]);
        }
    }

    // ---------------------------------------------------------------- ReplicaSet, Deployment

    public static void ReplicaSet(ReplicaSet rs, ReplicaSet? old, FieldErrors e)
    {
        Replicas(rs.Spec.Replicas, "spec.replicas", e);
        NonNegative(rs.Spec.MinReadySeconds, "spec.minReadySeconds", e);
        SelectorAndTemplate(rs.Spec.Selector, rs.Spec.Template, old?.Spec.Selector, old is not null, e);
    }

    public static void Deployment(Deployment d, Deployment? old, FieldErrors e)
    {
        Replicas(d.Spec.Replicas, "spec.replicas", e);
        NonNegative(d.Spec.MinReadySeconds, "spec.minReadySeconds", e);
        NonNegative(d.Spec.RevisionHistoryLimit, "spec.revisionHistoryLimit", e);
        SelectorAndTemplate(d.Spec.Selector, d.Spec.Template, old?.Spec.Selector, old is not null, e);
        if (d.Spec.ProgressDeadlineSeconds is { } deadline)
        {
            NonNegative(deadline, "spec.progressDeadlineSeconds", e);
            if (deadline <= (d.Spec.MinReadySeconds ?? 0))
            {
                e.Invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds");
            }
        }
        if (d.Spec.Strategy is { } strategy)
        {
            switch (strategy.Type)
            {
                case DeploymentStrategyType.Recreate:
                    if (strategy.RollingUpdate is not null)
                    {
                        e.Forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'");
                    }
                    break;
                case null or DeploymentStrategyType.RollingUpdate:
                    if (strategy.RollingUpdate is { } ru)
                    {
                        var surge = IntOrPercent(ru.MaxSurge, "spec.strategy.rollingUpdate.maxSurge", e);
                        var unavailable = IntOrPercent(ru.MaxUnavailable, "spec.strategy.rollingUpdate.maxUnavailable", e);
                        if (ru.MaxUnavailable is { IsInt: false } mu && mu.Scaled(100, roundUp: false) > 100)
                        {
                            e.Invalid("spec.strategy.rollingUpdate.maxUnavailable", mu.StringValue, "must not be greater than 100%");
                        }
                        if (surge == 0 && unavailable == 0)
                        {
                            e.Invalid("spec.strategy.rollingUpdate.maxUnavailable", ru.MaxUnavailable?.ToString(), "may not be 0 when `maxSurge` is 0");
                        }
                    }
                    break;
                default:
                    e.NotSupported("spec.strategy.type", strategy.Type, [DeploymentStrategyType.Recreate, DeploymentStrategyType.RollingUpdate]);
                    break;
            }
        }
    }

    /// <summary>Returns the count or percentage number, or null when absent or malformed.</summary>
    private static int? IntOrPercent(IntOrString? value, string path, FieldErrors e)
    {
        if (value is not { } v)
        {
            return null;
        }
        if (v.IsInt)
        {
            NonNegative(v.IntValue, path, e);
            return v.IntValue;
        }
        var scaled = v.Scaled(100, roundUp: false);
        if (scaled is null)
        {
            e.Invalid(path, v.StringValue, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')");
        }
        return scaled;
    }

    private static void Replicas(int? replicas, string path, FieldErrors e)
    {
        if (replicas is < 0)
        {
            e.Invalid(path, replicas, "must be greater than or equal to 0");
        }
        else if (replicas > MaxReplicas)
        {
            e.Invalid(path, replicas, $"must be less than or equal to {MaxReplicas}");
        }
    }

    private static void SelectorAndTemplate(LabelSelector? selector, PodTemplateSpec template, LabelSelector? oldSelector, bool isUpdate, FieldErrors e)
    {
        if (selector is null)
        {
            e.Required("spec.selector");
        }
        else
        {
            LabelSelector(selector, "spec.selector", e);
            if ((selector.MatchLabels?.Count ?? 0) + (selector.MatchExpressions?.Count ?? 0) == 0)
            {
                e.Invalid("spec.selector", "{}", "empty selector is invalid for deployment");
            }
            else if (Selector.TryFrom(selector, out var parsed) && !parsed.Matches(template.Metadata?.Labels))
            {
                e.Invalid("spec.template.metadata.labels", FormatLabels(template.Metadata?.Labels), "`selector` does not match template `labels`");
            }
            if (isUpdate && oldSelector is not null && !Serialization.ResourceJson.DeepEquals(selector, oldSelector))
            {
                e.Invalid("spec.selector", "", "field is immutable");
            }
        }
        if (template.Metadata is { } tm)
        {
            Labels(tm.Labels, "spec.template.metadata.labels", e);
            Annotations(tm.Annotations, "spec.template.metadata.annotations", e);
        }
        PodSpec(template.Spec, "spec.template.spec", e);
        if (template.Spec.RestartPolicy is { } rp && rp != RestartPolicy.Always)
        {
            e.NotSupported("spec.template.spec.restartPolicy", rp, [RestartPolicy.Always]);
        }
        if (template.Spec.NodeName is { Length: > 0 })
        {
            e.Forbidden("spec.template.spec.nodeName", "a template may not bind its pods to a node; use nodeSelector");
        }
    }

    private static string FormatLabels(IReadOnlyDictionary<string, string>? labels) =>
        "map[" + string.Join(" ", (labels ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}:{kv.Value}")) + "]";

    public static void LabelSelector(LabelSelector selector, string path, FieldErrors e)
    {
        Labels(selector.MatchLabels, $"{path}.matchLabels", e);
        if (selector.MatchExpressions is { } exprs)
        {
            for (var i = 0; i < exprs.Count; i++)
            {
                var r = exprs[i];
                var p = $"{path}.matchExpressions[{i}]";
                foreach (var msg in Names.QualifiedName(r.Key))
                {
                    e.Invalid($"{p}.key", r.Key, msg);
                }
                switch (r.Operator)
                {
                    case "In" or "NotIn":
                        if (r.Values is null || r.Values.Count == 0)
                        {
                            e.Required($"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'");
                        }
                        break;
                    case "Exists" or "DoesNotExist":
                        if (r.Values is { Count: > 0 })
                        {
                            e.Forbidden($"{p}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
                        }
                        break;
                    default:
                        e.NotSupported($"{p}.operator", r.Operator, ["In", "NotIn", "Exists", "DoesNotExist"]);
                        break;
                }
            }
        }
    }

    // ---------------------------------------------------------------- Service, Endpoints, Event

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
                    foreach (var msg in Names.Dns1123Label(p.Name))
                    {
                        e.Invalid($"{pp}.name", p.Name, msg);
                    }
                    if (!names.Add(p.Name))
                    {
                        e.Duplicate($"{pp}.name", p.Name);
                    }
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

    public static void Endpoints(Endpoints ep, Endpoints? old, FieldErrors e)
    {
        if (ep.Subsets is null)
        {
            return;
        }
        for (var i = 0; i < ep.Subsets.Count; i++)
        {
            var s = ep.Subsets[i];
            foreach (var (list, name) in new[] { (s.Addresses, "addresses"), (s.NotReadyAddresses, "notReadyAddresses") })
            {
                for (var j = 0; j < (list?.Count ?? 0); j++)
                {
                    if (!IsIPv4(list![j].Ip))
                    {
                        e.Invalid($"subsets[{i}].{name}[{j}].ip", list[j].Ip, "must be a valid IP address");
                    }
                }
            }
            for (var j = 0; j < (s.Ports?.Count ?? 0); j++)
            {
                if (!Names.IsValidPortNumber(s.Ports![j].Port))
                {
                    e.Invalid($"subsets[{i}].ports[{j}].port", s.Ports[j].Port, "must be between 1 and 65535, inclusive");
                }
            }
        }
    }

    public static void Event(Event ev, Event? old, FieldErrors e)
    {
        if (ev.InvolvedObject.Namespace is { Length: > 0 } ns && ns != ev.Metadata.Namespace)
        {
            e.Invalid("involvedObject.namespace", ns, "does not match event.namespace");
        }
        if (string.IsNullOrEmpty(ev.InvolvedObject.Name) && string.IsNullOrEmpty(ev.InvolvedObject.Kind))
        {
            e.Required("involvedObject");
        }
        if (ev.EventType is { } t && t is not (EventTypes.Normal or EventTypes.Warning))
        {
            e.NotSupported("type", t, [EventTypes.Normal, EventTypes.Warning]);
        }
        if (ev.Count is < 0)
        {
            e.Invalid("count", ev.Count, "must be greater than or equal to 0");
        }
    }

    public static bool IsIPv4(string value) =>
        IPAddress.TryParse(value, out var a) && a.AddressFamily == AddressFamily.InterNetwork && value.Count(c => c == '.') == 3;
}
