using Orchestrator.Grains.Security;
using Orchestrator.Model;

namespace Orchestrator.Tests.Security;

/// <summary>Kubernetes' RBAC decisions over roles and bindings in memory: each wildcard,
/// subresources, resourceNames, namespace scoping, groups, service accounts, URLs.</summary>
public sealed class RbacPolicyTests
{
    private static readonly UserInfo Alice = new() { Name = "alice", Groups = ["devs", SystemGroups.Authenticated] };

    private static PolicyRule Rule(string[] verbs, string[] groups, string[] resources, string[]? names = null) =>
        new() { Verbs = verbs, ApiGroups = groups, Resources = resources, ResourceNames = names };

    private static RequestAttributes Resource(string verb, string resource, string ns = "dev", string name = "", string group = "", string subresource = "", UserInfo? user = null) => new()
    {
        User = user ?? Alice,
        Verb = verb,
        IsResourceRequest = true,
        ApiGroup = group,
        Resource = resource,
        Subresource = subresource,
        Namespace = ns,
        Name = name,
    };

    private static RequestAttributes Url(string path, string verb = "get", UserInfo? user = null) => new() { User = user ?? Alice, Verb = verb, Path = path };

    private static ClusterRole ClusterRole(string name, params PolicyRule[] rules) => new() { Metadata = new ObjectMeta { Name = name }, Rules = rules };

    private static Role Role(string ns, string name, params PolicyRule[] rules) => new() { Metadata = new ObjectMeta { Name = name, Namespace = ns }, Rules = rules };

    private static Subject User(string name) => new() { Kind = Rbac.UserKind, ApiGroup = Rbac.GroupName, Name = name };

    private static ClusterRoleBinding Crb(string name, string role, params Subject[] subjects) =>
        new() { Metadata = new ObjectMeta { Name = name }, RoleRef = new RoleRef { ApiGroup = Rbac.GroupName, Kind = "ClusterRole", Name = role }, Subjects = subjects };

    private static RoleBinding Rb(string ns, string name, string kind, string role, params Subject[] subjects) =>
        new() { Metadata = new ObjectMeta { Name = name, Namespace = ns }, RoleRef = new RoleRef { ApiGroup = Rbac.GroupName, Kind = kind, Name = role }, Subjects = subjects };

    /// <summary>Alice bound cluster-wide to one ClusterRole holding <paramref name="rule"/>.</summary>
    private static AuthorizationDecision Decide(PolicyRule rule, RequestAttributes request) =>
        new RbacPolicy([ClusterRole("r", rule)], [], [Crb("b", "r", User("alice"))], []).Authorize(request);

    public static TheoryData<string, PolicyRule, RequestAttributes, bool> RuleCases => new()
    {
        { "exact verb, group, resource", Rule(["get"], [""], ["pods"]), Resource("get", "pods", name: "p"), true },
        { "other verb", Rule(["get"], [""], ["pods"]), Resource("delete", "pods", name: "p"), false },
        { "verb *", Rule(["*"], [""], ["pods"]), Resource("deletecollection", "pods"), true },
        { "other group", Rule(["get"], [""], ["deployments"]), Resource("get", "deployments", group: "apps"), false },
        { "group *", Rule(["get"], ["*"], ["deployments"]), Resource("get", "deployments", group: "apps"), true },
        { "resource *", Rule(["list"], ["apps"], ["*"]), Resource("list", "replicasets", group: "apps"), true },
        { "resource * covers subresources", Rule(["get"], [""], ["*"]), Resource("get", "pods", name: "p", subresource: "log"), true },
        { "resource does not cover its subresource", Rule(["get"], [""], ["pods"]), Resource("get", "pods", name: "p", subresource: "log"), false },
        { "exact subresource", Rule(["get"], [""], ["pods/log"]), Resource("get", "pods", name: "p", subresource: "log"), true },
        { "subresource rule does not cover the resource", Rule(["get"], [""], ["pods/log"]), Resource("get", "pods", name: "p"), false },
        { "*/subresource", Rule(["update"], ["apps"], ["*/scale"]), Resource("update", "deployments", group: "apps", name: "d", subresource: "scale"), true },
        { "*/subresource of another subresource", Rule(["update"], ["apps"], ["*/scale"]), Resource("update", "deployments", group: "apps", name: "d", subresource: "status"), false },
        { "resource/* is no wildcard", Rule(["get"], [""], ["pods/*"]), Resource("get", "pods", name: "p", subresource: "log"), false },
        { "resourceNames: that name", Rule(["get"], [""], ["configmaps"], ["cm"]), Resource("get", "configmaps", name: "cm"), true },
        { "resourceNames: another name", Rule(["get"], [""], ["configmaps"], ["cm"]), Resource("get", "configmaps", name: "other"), false },
        { "resourceNames: list has no name", Rule(["list"], [""], ["configmaps"], ["cm"]), Resource("list", "configmaps"), false },
        { "resourceNames: create has no name", Rule(["create"], [""], ["configmaps"], ["cm"]), Resource("create", "configmaps"), false },
        { "resource rule, URL request", Rule(["get"], ["*"], ["*"]), Url("/healthz"), false },
        { "URL exact", new PolicyRule { Verbs = ["get"], NonResourceUrls = ["/healthz"] }, Url("/healthz"), true },
        { "URL exact, longer path", new PolicyRule { Verbs = ["get"], NonResourceUrls = ["/healthz"] }, Url("/healthz/etcd"), false },
        { "URL prefix", new PolicyRule { Verbs = ["get"], NonResourceUrls = ["/apis/*"] }, Url("/apis/apps/v1"), true },
        { "URL prefix, not under it", new PolicyRule { Verbs = ["get"], NonResourceUrls = ["/apis/*"] }, Url("/api/v1"), false },
        { "URL *", new PolicyRule { Verbs = ["*"], NonResourceUrls = ["*"] }, Url("/metrics", "post"), true },
        { "URL, other verb", new PolicyRule { Verbs = ["get"], NonResourceUrls = ["/version"] }, Url("/version", "post"), false },
        { "URL rule, resource request", new PolicyRule { Verbs = ["*"], NonResourceUrls = ["*"] }, Resource("get", "pods"), false },
    };

    [Theory]
    [MemberData(nameof(RuleCases))]
    public void RuleMatching(string because, PolicyRule rule, RequestAttributes request, bool allowed) =>
        Assert.True(Decide(rule, request).Allowed == allowed, because);

    [Fact]
    public void AllowReasonNamesTheBindingTheRoleAndTheSubject()
    {
        var decision = Decide(Rule(["get"], [""], ["pods"]), Resource("get", "pods"));
        Assert.Equal("RBAC: allowed by ClusterRoleBinding \"b\" of ClusterRole \"r\" to User \"alice\"", decision.Reason);
    }

    [Fact]
    public void NothingBoundIsDeniedWithoutReason()
    {
        var decision = new RbacPolicy([ClusterRole("r", Rule(["*"], ["*"], ["*"]))], [], [Crb("b", "r", User("bob"))], []).Authorize(Resource("get", "pods"));
        Assert.False(decision.Allowed);
        Assert.Equal("", decision.Reason);
    }

    [Fact]
    public void SystemMastersNeedNoBinding()
    {
        var root = new UserInfo { Name = "root", Groups = [SystemGroups.Masters] };
        Assert.True(new RbacPolicy([], [], [], []).Authorize(Resource("delete", "nodes", ns: "", name: "n", user: root)).Allowed);
    }

    [Fact]
    public void GroupsAreMatchedByTheUsersGroups()
    {
        var policy = new RbacPolicy([ClusterRole("view", Rule(["get"], [""], ["pods"]))], [], [Crb("devs-view", "view", new Subject { Kind = Rbac.GroupKind, Name = "devs" })], []);
        var decision = policy.Authorize(Resource("get", "pods"));
        Assert.True(decision.Allowed);
        Assert.Equal("RBAC: allowed by ClusterRoleBinding \"devs-view\" of ClusterRole \"view\" to Group \"devs\"", decision.Reason);
        Assert.False(policy.Authorize(Resource("get", "pods", user: new UserInfo { Name = "alice" })).Allowed);
    }

    [Fact]
    public void RoleBindingToAClusterRoleGrantsItsRulesInTheBindingsNamespaceOnly()
    {
        var policy = new RbacPolicy(
            [ClusterRole("edit", Rule(["create"], ["apps"], ["deployments"]))],
            [],
            [],
            [Rb("dev", "alice-edit", "ClusterRole", "edit", User("alice"))]);
        var decision = policy.Authorize(Resource("create", "deployments", ns: "dev", group: "apps"));
        Assert.True(decision.Allowed);
        Assert.Equal("RBAC: allowed by RoleBinding \"alice-edit/dev\" of ClusterRole \"edit\" to User \"alice\"", decision.Reason);
        Assert.False(policy.Authorize(Resource("create", "deployments", ns: "prod", group: "apps")).Allowed);
        // Across namespaces (a list of every namespace) is cluster-wide: a RoleBinding is not enough.
        Assert.False(policy.Authorize(Resource("create", "deployments", ns: "", group: "apps")).Allowed);
    }

    [Fact]
    public void RoleBindingToARoleUsesTheRoleOfItsNamespace()
    {
        var policy = new RbacPolicy(
            [],
            [Role("dev", "reader", Rule(["get"], [""], ["pods"])), Role("prod", "reader", Rule(["*"], ["*"], ["*"]))],
            [],
            [Rb("dev", "r", "Role", "reader", User("alice"))]);
        Assert.True(policy.Authorize(Resource("get", "pods", ns: "dev")).Allowed);
        Assert.False(policy.Authorize(Resource("delete", "pods", ns: "dev", name: "p")).Allowed);
    }

    [Fact]
    public void ServiceAccountSubjects()
    {
        var sa = new UserInfo { Name = SystemUsers.ServiceAccount("dev", "builder"), Groups = [SystemGroups.ServiceAccounts, SystemGroups.ServiceAccountsOf("dev")] };
        var rule = Rule(["list"], [""], ["pods"]);
        // In a RoleBinding, a ServiceAccount without a namespace is one of the binding's namespace.
        var local = new RbacPolicy([ClusterRole("r", rule)], [], [], [Rb("dev", "b", "ClusterRole", "r", new Subject { Kind = Rbac.ServiceAccountKind, Name = "builder" })]);
        var decision = local.Authorize(Resource("list", "pods", ns: "dev", user: sa));
        Assert.True(decision.Allowed);
        Assert.Equal("RBAC: allowed by RoleBinding \"b/dev\" of ClusterRole \"r\" to ServiceAccount \"builder/dev\"", decision.Reason);
        // The same name in another namespace is another account.
        var other = sa with { Name = SystemUsers.ServiceAccount("prod", "builder") };
        Assert.False(local.Authorize(Resource("list", "pods", ns: "dev", user: other)).Allowed);
        // A ClusterRoleBinding names the namespace; without one it matches nobody.
        var cluster = new RbacPolicy([ClusterRole("r", rule)], [], [Crb("b", "r", new Subject { Kind = Rbac.ServiceAccountKind, Name = "builder", Namespace = "dev" })], []);
        Assert.True(cluster.Authorize(Resource("list", "pods", ns: "prod", user: sa)).Allowed);
        var unnamespaced = new RbacPolicy([ClusterRole("r", rule)], [], [Crb("b", "r", new Subject { Kind = Rbac.ServiceAccountKind, Name = "builder" })], []);
        Assert.False(unnamespaced.Authorize(Resource("list", "pods", ns: "dev", user: sa)).Allowed);
        // The account's groups are groups like any other.
        var all = new RbacPolicy([ClusterRole("r", rule)], [], [Crb("b", "r", new Subject { Kind = Rbac.GroupKind, Name = SystemGroups.ServiceAccounts })], []);
        Assert.True(all.Authorize(Resource("list", "pods", user: sa)).Allowed);
    }

    [Fact]
    public void ABindingToAMissingRoleGrantsNothingAndSaysSo()
    {
        var policy = new RbacPolicy([], [], [Crb("b", "gone", User("alice"))], []);
        var decision = policy.Authorize(Resource("get", "pods"));
        Assert.False(decision.Allowed);
        Assert.Equal("RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found", decision.Reason);
    }

    [Fact]
    public void RulesForListsTheClusterWideAndTheNamespacesRules()
    {
        var clusterWide = new PolicyRule { Verbs = ["get"], NonResourceUrls = ["/api"] };
        var local = Rule(["get"], [""], ["pods"]);
        var elsewhere = Rule(["delete"], [""], ["pods"]);
        var policy = new RbacPolicy(
            [ClusterRole("discovery", clusterWide), ClusterRole("pods", local), ClusterRole("other", elsewhere)],
            [],
            [Crb("d", "discovery", new Subject { Kind = Rbac.GroupKind, Name = SystemGroups.Authenticated }), Crb("x", "gone", User("alice"))],
            [Rb("dev", "p", "ClusterRole", "pods", User("alice")), Rb("prod", "o", "ClusterRole", "other", User("alice"))]);

        var rules = policy.RulesFor(Alice, "dev");

        Assert.Equal([local], rules.ResourceRules);
        Assert.Equal([clusterWide], rules.NonResourceRules);
        Assert.Equal(["clusterrole.rbac.authorization.k8s.io \"gone\" not found"], rules.Errors);
    }

    [Fact]
    public void TheDefaultRolesGrantWhatKubernetesGrants()
    {
        var policy = new RbacPolicy(BootstrapPolicy.ClusterRoles, [], BootstrapPolicy.ClusterRoleBindings,
            [Rb("dev", "v", "ClusterRole", "view", User("viewer")), Rb("dev", "e", "ClusterRole", "edit", User("editor")), Rb("dev", "a", "ClusterRole", "admin", User("admin"))]);
        UserInfo U(string name) => new() { Name = name, Groups = [SystemGroups.Authenticated] };
        var anonymous = UserInfo.Anonymous;

        Assert.True(policy.Authorize(Url("/apis", user: U("nobody"))).Allowed);
        Assert.True(policy.Authorize(Url("/openapi/v3", user: U("nobody"))).Allowed);
        Assert.True(policy.Authorize(Url("/healthz", user: anonymous)).Allowed);
        Assert.False(policy.Authorize(Url("/apis", user: anonymous)).Allowed);
        Assert.True(policy.Authorize(Resource("create", "selfsubjectaccessreviews", ns: "", group: "authorization.k8s.io", user: U("nobody"))).Allowed);
        Assert.False(policy.Authorize(Resource("create", "subjectaccessreviews", ns: "", group: "authorization.k8s.io", user: U("nobody"))).Allowed);

        Assert.True(policy.Authorize(Resource("list", "pods", user: U("viewer"))).Allowed);
        Assert.True(policy.Authorize(Resource("get", "pods", name: "p", subresource: "log", user: U("viewer"))).Allowed);
        Assert.False(policy.Authorize(Resource("get", "secrets", name: "s", user: U("viewer"))).Allowed);
        Assert.False(policy.Authorize(Resource("list", "roles", group: Rbac.GroupName, user: U("viewer"))).Allowed);
        Assert.False(policy.Authorize(Resource("create", "pods", user: U("viewer"))).Allowed);

        Assert.True(policy.Authorize(Resource("create", "deployments", group: "apps", user: U("editor"))).Allowed);
        Assert.True(policy.Authorize(Resource("update", "deployments", group: "apps", name: "d", subresource: "scale", user: U("editor"))).Allowed);
        Assert.True(policy.Authorize(Resource("get", "secrets", name: "s", user: U("editor"))).Allowed);
        Assert.True(policy.Authorize(Resource("create", "pods", name: "p", subresource: "eviction", user: U("editor"))).Allowed);
        Assert.False(policy.Authorize(Resource("create", "rolebindings", group: Rbac.GroupName, user: U("editor"))).Allowed);

        Assert.True(policy.Authorize(Resource("create", "rolebindings", group: Rbac.GroupName, user: U("admin"))).Allowed);
        Assert.True(policy.Authorize(Resource("create", "localsubjectaccessreviews", group: "authorization.k8s.io", user: U("admin"))).Allowed);
        Assert.False(policy.Authorize(Resource("create", "rolebindings", ns: "prod", group: Rbac.GroupName, user: U("admin"))).Allowed);
        Assert.False(policy.Authorize(Resource("delete", "nodes", ns: "", name: "n", user: U("admin"))).Allowed);

        // cluster-admin is bound to system:masters, which is allowed anyway; its rules cover everything.
        var clusterAdmin = new RbacPolicy(BootstrapPolicy.ClusterRoles, [], [Crb("root", BootstrapPolicy.ClusterAdmin, User("root"))], []);
        Assert.True(clusterAdmin.Authorize(Resource("delete", "nodes", ns: "", name: "n", user: U("root"))).Allowed);
        Assert.True(clusterAdmin.Authorize(Url("/metrics", user: U("root"))).Allowed);
    }
}
