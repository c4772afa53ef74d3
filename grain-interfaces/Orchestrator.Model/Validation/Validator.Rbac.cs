using Orchestrator.Model;

namespace Orchestrator.Validation;

/// <summary>Validation of Roles, ClusterRoles and their bindings (Kubernetes'
/// pkg/apis/rbac/validation), with its field paths and messages.</summary>
public static partial class Validator
{
    private static readonly string[] RoleRefKinds = ["Role", "ClusterRole"];
    private static readonly string[] SubjectKinds = [Rbac.ServiceAccountKind, Rbac.UserKind, Rbac.GroupKind];

    public static void Role(Role role, Role? old, FieldErrors e) => PolicyRules(role.Rules, namespaced: true, e);

    public static void ClusterRole(ClusterRole role, ClusterRole? old, FieldErrors e) => PolicyRules(role.Rules, namespaced: false, e);

    public static void RoleBinding(RoleBinding binding, RoleBinding? old, FieldErrors e)
    {
        RoleRef(binding.RoleRef, RoleRefKinds, old?.RoleRef, e);
        Subjects(binding.Subjects, namespaced: true, e);
    }

    public static void ClusterRoleBinding(ClusterRoleBinding binding, ClusterRoleBinding? old, FieldErrors e)
    {
        RoleRef(binding.RoleRef, ["ClusterRole"], old?.RoleRef, e);
        Subjects(binding.Subjects, namespaced: false, e);
    }

    private static void PolicyRules(IReadOnlyList<PolicyRule>? rules, bool namespaced, FieldErrors e)
    {
        for (var i = 0; i < (rules?.Count ?? 0); i++)
        {
            var rule = rules![i];
            var path = $"rules[{i}]";
            if (rule.Verbs.Count == 0)
            {
                e.Required($"{path}.verbs", "verbs must contain at least one value");
            }
            if (rule.NonResourceUrls is { Count: > 0 } urls)
            {
                // A namespace cannot scope a URL: only ClusterRoles, bound cluster-wide, grant them.
                if (namespaced)
                {
                    e.Invalid($"{path}.nonResourceURLs", List(urls), "namespaced rules cannot apply to non-resource URLs");
                }
                if (rule.ApiGroups is { Count: > 0 } || rule.Resources is { Count: > 0 } || rule.ResourceNames is { Count: > 0 })
                {
                    e.Invalid($"{path}.nonResourceURLs", List(urls), "rules cannot apply to both regular resources and non-resource URLs");
                }
                continue;
            }
            if (rule.ApiGroups is not { Count: > 0 })
            {
                e.Required($"{path}.apiGroups", "resource rules must supply at least one api group");
            }
            if (rule.Resources is not { Count: > 0 })
            {
                e.Required($"{path}.resources", "resource rules must supply at least one resource");
            }
        }
    }

    private static void RoleRef(RoleRef roleRef, string[] kinds, RoleRef? old, FieldErrors e)
    {
        if (roleRef.ApiGroup != Rbac.GroupName)
        {
            e.NotSupported("roleRef.apiGroup", roleRef.ApiGroup, [Rbac.GroupName]);
        }
        if (!kinds.Contains(roleRef.Kind, StringComparer.Ordinal))
        {
            e.NotSupported("roleRef.kind", roleRef.Kind, kinds);
        }
        if (roleRef.Name.Length == 0)
        {
            e.Required("roleRef.name");
        }
        else
        {
            foreach (var msg in Names.PathSegmentName(roleRef.Name))
            {
                e.Invalid("roleRef.name", roleRef.Name, msg);
            }
        }
        // A binding grants what its role allows: changing the role in place would widen a grant
        // that whoever created the binding was allowed to make for another role.
        if (old is not null && old != roleRef)
        {
            e.Invalid("roleRef", roleRef.ToString(), "cannot change roleRef");
        }
    }

    /// <summary>ValidateRoleBindingSubject. A ServiceAccount of a RoleBinding may leave out its
    /// namespace (the authorizer reads it as the binding's); a ClusterRoleBinding has none to lend.</summary>
    private static void Subjects(IReadOnlyList<Subject>? subjects, bool namespaced, FieldErrors e)
    {
        for (var i = 0; i < (subjects?.Count ?? 0); i++)
        {
            var s = subjects![i];
            var path = $"subjects[{i}]";
            if (s.Name.Length == 0)
            {
                e.Required($"{path}.name");
            }
            switch (s.Kind)
            {
                case Rbac.ServiceAccountKind:
                    if (s.Name.Length > 0)
                    {
                        foreach (var msg in Names.Dns1123Subdomain(s.Name))
                        {
                            e.Invalid($"{path}.name", s.Name, msg);
                        }
                    }
                    if (!string.IsNullOrEmpty(s.ApiGroup))
                    {
                        e.NotSupported($"{path}.apiGroup", s.ApiGroup, [""]);
                    }
                    if (!namespaced && string.IsNullOrEmpty(s.Namespace))
                    {
                        e.Required($"{path}.namespace");
                    }
                    break;
                case Rbac.UserKind or Rbac.GroupKind:
                    if (s.ApiGroup != Rbac.GroupName)
                    {
                        e.NotSupported($"{path}.apiGroup", s.ApiGroup ?? "", [Rbac.GroupName]);
                    }
                    break;
                default:
                    e.NotSupported($"{path}.kind", s.Kind, SubjectKinds);
                    break;
            }
        }
    }

    /// <summary>A list as Go's %v prints it in an Invalid value: [a b].</summary>
    private static string List(IEnumerable<string> values) => $"[{string.Join(" ", values)}]";
}
