using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.Grains.Security;

/// <summary>
/// The roles and bindings every cluster starts with, as Kubernetes' bootstrap policy
/// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy): cluster-admin for system:masters, the
/// user-facing admin/edit/view to bind per namespace, and what every caller may do to find its
/// way (discovery, health, version, reviews of its own access). Created when missing; an object
/// an administrator changed is left as it is (Kubernetes puts back the rules of roles annotated
/// autoupdate "true" at each start; we only create).
/// </summary>
public static class BootstrapPolicy
{
    private static readonly string[] Read = ["get", "list", "watch"];
    private static readonly string[] Write = ["create", "delete", "deletecollection", "patch", "update"];

    public const string ClusterAdmin = "cluster-admin";

    public static IReadOnlyList<ClusterRole> ClusterRoles { get; } =
    [
        Role(ClusterAdmin,
            new PolicyRule { Verbs = [Rbac.All], ApiGroups = [Rbac.All], Resources = [Rbac.All] },
            new PolicyRule { Verbs = [Rbac.All], NonResourceUrls = [Rbac.All] }),
        // admin, edit and view are meant to be bound in a namespace (a RoleBinding to the
        // ClusterRole). Kubernetes aggregates them from labelled roles; ours list the rules.
        Role("admin", [.. AdminOnly(), .. EditOnly(), .. ViewOnly()]),
        Role("edit", [.. EditOnly(), .. ViewOnly()]),
        Role("view", [.. ViewOnly()]),
        Role("system:discovery", new PolicyRule
        {
            Verbs = ["get"],
            NonResourceUrls = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"],
        }),
        Role("system:basic-user", new PolicyRule
        {
            Verbs = ["create"],
            ApiGroups = ["authorization.k8s.io"],
            Resources = ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        }),
        Role("system:public-info-viewer", new PolicyRule
        {
            Verbs = ["get"],
            NonResourceUrls = ["/healthz", "/livez", "/readyz", "/version", "/version/"],
        }),
    ];

    public static IReadOnlyList<ClusterRoleBinding> ClusterRoleBindings { get; } =
    [
        Binding(ClusterAdmin, SystemGroups.Masters),
        Binding("system:discovery", SystemGroups.Authenticated),
        Binding("system:basic-user", SystemGroups.Authenticated),
        Binding("system:public-info-viewer", SystemGroups.Authenticated, SystemGroups.Unauthenticated),
    ];

    /// <summary>Creates every default role and binding that does not exist.</summary>
    public static async Task EnsureAsync(IGrainFactory grains)
    {
        foreach (var role in ClusterRoles)
        {
            await CreateIfMissingAsync(grains.GetGrain<IClusterRoleGrain>(role.Key()), role);
        }
        foreach (var binding in ClusterRoleBindings)
        {
            await CreateIfMissingAsync(grains.GetGrain<IClusterRoleBindingGrain>(binding.Key()), binding);
        }
    }

    private static async Task CreateIfMissingAsync<T>(IResourceGrain<T> grain, T obj) where T : class, IResource<T>
    {
        if (await grain.GetAsync() is not null)
        {
            return;
        }
        try
        {
            await grain.CreateAsync(obj);
        }
        catch (ApiException ex) when (ex.Reason == StatusReason.AlreadyExists)
        {
            // Another silo's bootstrap was first.
        }
    }

    /// <summary>Reads of what a namespace holds, except Secrets (reading them would let a viewer
    /// act as any ServiceAccount) and RBAC objects (Kubernetes' view).</summary>
    private static IEnumerable<PolicyRule> ViewOnly() =>
    [
        Rule(Read, "", "pods", "pods/log", "pods/status", "services", "services/status", "endpoints", "configmaps",
            "serviceaccounts", "persistentvolumeclaims", "persistentvolumeclaims/status", "replicationcontrollers",
            "replicationcontrollers/scale", "replicationcontrollers/status", "bindings", "events", "limitranges",
            "resourcequotas", "resourcequotas/status", "namespaces", "namespaces/status"),
        Rule(Read, "apps", "deployments", "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
            "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status", "daemonsets",
            "daemonsets/status", "controllerrevisions"),
        Rule(Read, "autoscaling", "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
        Rule(Read, "batch", "jobs", "jobs/status", "cronjobs", "cronjobs/status"),
        Rule(Read, "policy", "poddisruptionbudgets", "poddisruptionbudgets/status"),
        Rule(Read, "networking.k8s.io", "ingresses", "ingresses/status", "networkpolicies"),
        Rule(Read, "discovery.k8s.io", "endpointslices"),
    ];

    /// <summary>Writes of workloads, services, configuration and Secrets (and reading Secrets),
    /// but not of roles or bindings: an editor cannot grant itself more (Kubernetes' edit).</summary>
    private static IEnumerable<PolicyRule> EditOnly() =>
    [
        Rule(["impersonate"], "", "serviceaccounts"),
        Rule(Write, "", "pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"),
        Rule(["create"], "", "pods/eviction", "serviceaccounts/token"),
        Rule(Write, "", "configmaps", "events", "persistentvolumeclaims", "replicationcontrollers", "replicationcontrollers/scale",
            "secrets", "serviceaccounts", "services", "services/proxy", "endpoints"),
        Rule(Read, "", "secrets", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "services/proxy"),
        Rule(Write, "apps", "deployments", "deployments/rollback", "deployments/scale", "replicasets", "replicasets/scale",
            "statefulsets", "statefulsets/scale", "daemonsets"),
        Rule(Write, "autoscaling", "horizontalpodautoscalers"),
        Rule(Write, "batch", "jobs", "cronjobs"),
        Rule(Write, "policy", "poddisruptionbudgets"),
        Rule(Write, "networking.k8s.io", "ingresses", "networkpolicies"),
        Rule(Write, "discovery.k8s.io", "endpointslices"),
    ];

    /// <summary>What a namespace's admin adds to edit: the namespace's own roles and bindings, and
    /// asking what others may do there (Kubernetes' admin).</summary>
    private static IEnumerable<PolicyRule> AdminOnly() =>
    [
        Rule(["create"], "authorization.k8s.io", "localsubjectaccessreviews"),
        Rule([.. Read, .. Write], Rbac.GroupName, "roles", "rolebindings"),
    ];

    private static PolicyRule Rule(string[] verbs, string group, params string[] resources) =>
        new() { Verbs = verbs, ApiGroups = [group], Resources = resources };

    private static ClusterRole Role(string name, params PolicyRule[] rules) => new()
    {
        Metadata = Meta(name),
        Rules = rules,
    };

    private static ClusterRoleBinding Binding(string role, params string[] groups) => new()
    {
        Metadata = Meta(role),
        RoleRef = new RoleRef { ApiGroup = Rbac.GroupName, Kind = "ClusterRole", Name = role },
        Subjects = [.. groups.Select(g => new Subject { Kind = Rbac.GroupKind, ApiGroup = Rbac.GroupName, Name = g })],
    };

    private static ObjectMeta Meta(string name) => new()
    {
        Name = name,
        Labels = new Dictionary<string, string> { [Rbac.BootstrappingLabel] = Rbac.BootstrappingValue },
        Annotations = new Dictionary<string, string> { [Rbac.AutoUpdateAnnotation] = "true" },
    };
}
