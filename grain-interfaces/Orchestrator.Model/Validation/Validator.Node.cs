using Orchestrator.Model;

namespace Orchestrator.Validation;

/// <summary>Validation of a Node.</summary>
public static partial class Validator
{
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
}
