using Orchestrator.Model;
using Orchestrator.Selectors;

namespace Orchestrator.Validation;

/// <summary>Validation of a ReplicaSet.</summary>
public static partial class Validator
{
    public static void ReplicaSet(ReplicaSet rs, ReplicaSet? old, FieldErrors e)
    {
        Replicas(rs.Spec.Replicas, "spec.replicas", e);
        NonNegative(rs.Spec.MinReadySeconds, "spec.minReadySeconds", e);
        SelectorAndTemplate(rs.Spec.Selector, rs.Spec.Template, old?.Spec.Selector, old is not null, e);
    }

    // Shared with deployments: replicas, selector and pod template.

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
}
