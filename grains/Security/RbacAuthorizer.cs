using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Index;
using Orchestrator.Model;

namespace Orchestrator.Grains.Security;

/// <summary>
/// RBAC as the API's authorizer: every request is decided by <see cref="RbacPolicy"/> over the
/// roles and bindings in this silo's caches. Reads what the cache holds without waiting for the
/// store's latest version (resourceVersion "0"), as Kubernetes' RBAC authorizer reads its
/// informers: a binding just written may take a moment to take effect, and no request waits on
/// the store to be authorized.
/// </summary>
public sealed class RbacAuthorizer(ResourceCaches caches) : IAuthorizer
{
    private static readonly ListOptions Cached = new() { ResourceVersion = "0" };

    public async ValueTask<AuthorizationDecision> AuthorizeAsync(RequestAttributes request, CancellationToken cancellationToken = default)
    {
        if (request.User.InGroup(SystemGroups.Masters))
        {
            return AuthorizationDecision.Allow();
        }
        return (await PolicyAsync(request.Namespace)).Authorize(request);
    }

    /// <summary>The rules that apply to <paramref name="user"/> in <paramref name="ns"/>
    /// (SelfSubjectRulesReview).</summary>
    public async Task<RbacRuleSet> RulesForAsync(UserInfo user, string ns) => (await PolicyAsync(ns)).RulesFor(user, ns);

    /// <summary>The cluster-wide objects, and of the namespaced ones only the namespace's.</summary>
    private async Task<RbacPolicy> PolicyAsync(string ns)
    {
        var clusterRoles = caches.Of<ClusterRole>().ListAsync(ResourceQuery.All, Cached);
        var clusterRoleBindings = caches.Of<ClusterRoleBinding>().ListAsync(ResourceQuery.All, Cached);
        var roles = ns.Length == 0 ? null : caches.Of<Role>().ListAsync(ResourceQuery.InNamespace(ns), Cached);
        var roleBindings = ns.Length == 0 ? null : caches.Of<RoleBinding>().ListAsync(ResourceQuery.InNamespace(ns), Cached);
        return new RbacPolicy(
            (await clusterRoles).Items,
            roles is null ? [] : (await roles).Items,
            (await clusterRoleBindings).Items,
            roleBindings is null ? [] : (await roleBindings).Items);
    }
}
