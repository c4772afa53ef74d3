using Orchestrator.Model;

namespace Orchestrator.Grains.Security;

/// <summary>The rules that apply to a user in a namespace (kubectl auth can-i --list), and the
/// roles that could not be read while collecting them.</summary>
public sealed record RbacRuleSet(IReadOnlyList<PolicyRule> Rules, IReadOnlyList<string> Errors)
{
    public IEnumerable<PolicyRule> ResourceRules => Rules.Where(r => r.NonResourceUrls is not { Count: > 0 });

    public IEnumerable<PolicyRule> NonResourceRules => Rules.Where(r => r.NonResourceUrls is { Count: > 0 });
}

/// <summary>
/// Kubernetes' RBAC authorizer over a set of roles and bindings in memory: pure and synchronous,
/// so the rules can be tested without a silo. A request is allowed when a ClusterRoleBinding, or
/// a RoleBinding of the request's namespace, binds the user to a role with a rule that allows it.
/// A RoleBinding to a ClusterRole grants that role's rules in the binding's namespace only. RBAC
/// only adds permissions: there are no deny rules, and a request nothing allows is denied.
/// </summary>
public sealed class RbacPolicy
{
    private readonly IReadOnlyList<ClusterRoleBinding> _clusterRoleBindings;
    private readonly IReadOnlyList<RoleBinding> _roleBindings;
    private readonly Dictionary<string, ClusterRole> _clusterRoles;
    private readonly Dictionary<(string Namespace, string Name), Role> _roles;

    public RbacPolicy(IEnumerable<ClusterRole> clusterRoles, IEnumerable<Role> roles, IEnumerable<ClusterRoleBinding> clusterRoleBindings, IEnumerable<RoleBinding> roleBindings)
    {
        _clusterRoles = clusterRoles.ToDictionary(r => r.Metadata.Name ?? "", StringComparer.Ordinal);
        _roles = roles.ToDictionary(r => (r.Metadata.Namespace ?? "", r.Metadata.Name ?? ""));
        _clusterRoleBindings = [.. clusterRoleBindings];
        _roleBindings = [.. roleBindings];
    }

    public AuthorizationDecision Authorize(RequestAttributes request)
    {
        // Kubernetes' privileged-group authorizer runs before RBAC: system:masters needs no binding
        // (and can repair RBAC when every binding is gone).
        if (request.User.InGroup(SystemGroups.Masters))
        {
            return AuthorizationDecision.Allow();
        }
        var errors = new List<string>();
        foreach (var (binding, subject, role, rules) in Grants(request.User, request.Namespace, errors))
        {
            if (rules.Any(rule => RbacRules.Allows(rule, request)))
            {
                return AuthorizationDecision.Allow($"RBAC: allowed by {binding} of {role} to {subject}");
            }
        }
        // The 403 message is built by the API; the reason only adds what kept RBAC from deciding.
        return AuthorizationDecision.Deny(errors.Count switch
        {
            0 => "",
            1 => $"RBAC: {errors[0]}",
            _ => $"RBAC: [{string.Join(", ", errors)}]",
        });
    }

    /// <summary>Every rule that applies to the user in <paramref name="ns"/> (cluster-wide ones only
    /// for an empty namespace), in the order the authorizer visits them.</summary>
    public RbacRuleSet RulesFor(UserInfo user, string ns)
    {
        var errors = new List<string>();
        var rules = Grants(user, ns, errors).SelectMany(g => g.Rules).ToList();
        return new RbacRuleSet(rules, errors);
    }

    /// <summary>Kubernetes' VisitRulesFor: the ClusterRoleBindings first, then the RoleBindings of
    /// the namespace; for each binding the first subject that is the user. A role that does not exist
    /// grants nothing and is reported.</summary>
    private IEnumerable<(string Binding, string Subject, string Role, IReadOnlyList<PolicyRule> Rules)> Grants(UserInfo user, string ns, List<string> errors)
    {
        foreach (var crb in _clusterRoleBindings)
        {
            if (crb.Subjects?.FirstOrDefault(s => RbacRules.AppliesTo(s, user, "")) is not { } subject)
            {
                continue;
            }
            if (Rules(crb.RoleRef, null, errors) is { } rules)
            {
                yield return ($"ClusterRoleBinding \"{crb.Metadata.Name}\"", RbacRules.Describe(subject, ""), Describe(crb.RoleRef), rules);
            }
        }
        if (ns.Length == 0)
        {
            yield break;
        }
        foreach (var rb in _roleBindings)
        {
            if (rb.Metadata.Namespace != ns || rb.Subjects?.FirstOrDefault(s => RbacRules.AppliesTo(s, user, ns)) is not { } subject)
            {
                continue;
            }
            if (Rules(rb.RoleRef, ns, errors) is { } rules)
            {
                // Kubernetes writes a RoleBinding as "name/namespace".
                yield return ($"RoleBinding \"{rb.Metadata.Name}/{ns}\"", RbacRules.Describe(subject, ns), Describe(rb.RoleRef), rules);
            }
        }
    }

    private IReadOnlyList<PolicyRule>? Rules(RoleRef roleRef, string? ns, List<string> errors)
    {
        switch (roleRef.Kind)
        {
            case "ClusterRole" when _clusterRoles.TryGetValue(roleRef.Name, out var clusterRole):
                return clusterRole.Rules ?? [];
            case "ClusterRole":
                errors.Add($"clusterrole.{Rbac.GroupName} \"{roleRef.Name}\" not found");
                return null;
            case "Role" when ns is not null && _roles.TryGetValue((ns, roleRef.Name), out var role):
                return role.Rules ?? [];
            case "Role" when ns is not null:
                errors.Add($"role.{Rbac.GroupName} \"{roleRef.Name}\" not found");
                return null;
            default:
                errors.Add($"unsupported role reference kind: \"{roleRef.Kind}\"");
                return null;
        }
    }

    private static string Describe(RoleRef roleRef) => $"{roleRef.Kind} \"{roleRef.Name}\"";
}
