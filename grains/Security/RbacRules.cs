using Orchestrator.Model;

namespace Orchestrator.Grains.Security;

/// <summary>
/// Whether one RBAC rule covers one request, as Kubernetes' rbac/v1 evaluation helpers decide it.
/// Every list of a rule is OR-ed and "*" matches anything in it. A resource may be named with its
/// subresource ("pods/log"), and "*/scale" matches the scale subresource of any resource; there is
/// no "pods/*". resourceNames only admit requests that carry one of those names, so a rule with
/// resourceNames never allows list, watch, create or deletecollection.
/// </summary>
public static class RbacRules
{
    public static bool Allows(PolicyRule rule, RequestAttributes request) => request.IsResourceRequest
        ? VerbMatches(rule, request.Verb)
            && ApiGroupMatches(rule, request.ApiGroup)
            && ResourceMatches(rule, request.Subresource.Length == 0 ? request.Resource : $"{request.Resource}/{request.Subresource}", request.Subresource)
            && ResourceNameMatches(rule, request.Name)
        : VerbMatches(rule, request.Verb) && NonResourceUrlMatches(rule, request.Path);

    public static bool VerbMatches(PolicyRule rule, string verb) =>
        rule.Verbs.Any(v => v == Rbac.All || v == verb);

    public static bool ApiGroupMatches(PolicyRule rule, string group) =>
        rule.ApiGroups?.Any(g => g == Rbac.All || g == group) == true;

    public static bool ResourceMatches(PolicyRule rule, string combinedResource, string subresource)
    {
        foreach (var r in rule.Resources ?? [])
        {
            if (r == Rbac.All || r == combinedResource)
            {
                return true;
            }
            if (subresource.Length > 0 && r.Length == subresource.Length + 2 && r.StartsWith("*/", StringComparison.Ordinal) && r.EndsWith(subresource, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    public static bool ResourceNameMatches(PolicyRule rule, string name) =>
        rule.ResourceNames is not { Count: > 0 } names || names.Contains(name, StringComparer.Ordinal);

    /// <summary>"*" is every path; a trailing "*" is a prefix ("/apis/*"); anything else is exact.</summary>
    public static bool NonResourceUrlMatches(PolicyRule rule, string path)
    {
        foreach (var url in rule.NonResourceUrls ?? [])
        {
            if (url == Rbac.All || url == path)
            {
                return true;
            }
            if (url.EndsWith('*') && path.StartsWith(url.TrimEnd('*'), StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Whether a binding's subject is this user. A ServiceAccount without a namespace is
    /// one of the binding's namespace (only a RoleBinding has one).</summary>
    public static bool AppliesTo(Subject subject, UserInfo user, string bindingNamespace) => subject.Kind switch
    {
        Rbac.UserKind => user.Name == subject.Name,
        Rbac.GroupKind => user.InGroup(subject.Name),
        Rbac.ServiceAccountKind => (string.IsNullOrEmpty(subject.Namespace) ? bindingNamespace : subject.Namespace) is { Length: > 0 } ns
            && user.Name == SystemUsers.ServiceAccount(ns, subject.Name),
        _ => false,
    };

    /// <summary>How Kubernetes names a subject in an allow reason: User "alice", ServiceAccount "name/namespace".</summary>
    public static string Describe(Subject subject, string bindingNamespace) => subject.Kind == Rbac.ServiceAccountKind
        ? $"{subject.Kind} \"{subject.Name}/{(string.IsNullOrEmpty(subject.Namespace) ? bindingNamespace : subject.Namespace)}\""
        : $"{subject.Kind} \"{subject.Name}\"";
}
