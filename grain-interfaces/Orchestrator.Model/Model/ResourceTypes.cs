namespace Orchestrator.Model;

/// <summary>The type entries of the kinds in this model (what the control plane serves is its
/// KindRegistry).</summary>
public static class ResourceTypes
{
    public static readonly ResourceType Namespace = new("", "v1", "Namespace", "namespaces", Namespaced: false, HasStatus: true, ShortNames: ["ns"]);
    public static readonly ResourceType Node = new("", "v1", "Node", "nodes", Namespaced: false, HasStatus: true, ShortNames: ["no"]);
    public static readonly ResourceType Pod = new("", "v1", "Pod", "pods", Namespaced: true, HasStatus: true, ShortNames: ["po"]);
    public static readonly ResourceType Service = new("", "v1", "Service", "services", Namespaced: true, HasStatus: true, ShortNames: ["svc"]);
    public static readonly ResourceType Endpoints = new("", "v1", "Endpoints", "endpoints", Namespaced: true, HasStatus: false, ShortNames: ["ep"]);
    public static readonly ResourceType Event = new("", "v1", "Event", "events", Namespaced: true, HasStatus: false, ShortNames: ["ev"]);
    public static readonly ResourceType ReplicaSet = new("apps", "v1", "ReplicaSet", "replicasets", Namespaced: true, HasStatus: true, HasScale: true, ShortNames: ["rs"]);
    public static readonly ResourceType Deployment = new("apps", "v1", "Deployment", "deployments", Namespaced: true, HasStatus: true, HasScale: true, ShortNames: ["deploy"]);
    public static readonly ResourceType Role = new(Rbac.GroupName, "v1", "Role", "roles", Namespaced: true, HasStatus: false);
    public static readonly ResourceType ClusterRole = new(Rbac.GroupName, "v1", "ClusterRole", "clusterroles", Namespaced: false, HasStatus: false);
    public static readonly ResourceType RoleBinding = new(Rbac.GroupName, "v1", "RoleBinding", "rolebindings", Namespaced: true, HasStatus: false);
    public static readonly ResourceType ClusterRoleBinding = new(Rbac.GroupName, "v1", "ClusterRoleBinding", "clusterrolebindings", Namespaced: false, HasStatus: false);
}
