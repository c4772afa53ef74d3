using System.Net;
using System.Net.Sockets;
using Orchestrator.Model;
using Orchestrator.Selectors;

namespace Orchestrator.Validation;

/// <summary>
/// Kubernetes' validation for the kinds we serve: metadata and shared rules here, each kind's own
/// rules in Validator.{Kind}.cs. Every check adds to one
/// <see cref="FieldErrors"/> instead of stopping, so a client hears every problem at once.
/// </summary>
public static partial class Validator
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

    /// <summary>The name of one of several siblings (a pod's containers or volumes, a service's
    /// ports): a DNS-1123 label, used once among them.</summary>
    private static void SiblingName(string name, string path, HashSet<string> seen, FieldErrors e)
    {
        foreach (var msg in Names.Dns1123Label(name))
        {
            e.Invalid(path, name, msg);
        }
        if (!seen.Add(name))
        {
            e.Duplicate(path, name);
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
        if (type.Group == Rbac.GroupName)
        {
            return Names.PathSegmentName(name);
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

    public static bool IsIPv4(string value) =>
        IPAddress.TryParse(value, out var a) && a.AddressFamily == AddressFamily.InterNetwork && value.Count(c => c == '.') == 3;
}
