using System.Text.Json.Serialization;
using Orchestrator.Validation;

namespace Orchestrator.Model;

/// <summary>rbac.authorization.k8s.io: the group name, the kinds a roleRef or subject may name,
/// and the label and annotation Kubernetes puts on the roles it creates itself.</summary>
public static class Rbac
{
    public const string GroupName = "rbac.authorization.k8s.io";

    public const string UserKind = "User";
    public const string GroupKind = "Group";
    public const string ServiceAccountKind = "ServiceAccount";

    /// <summary>Kubernetes' "bootstrap policy" label: the API server created this object.</summary>
    public const string BootstrappingLabel = "kubernetes.io/bootstrapping";
    public const string BootstrappingValue = "rbac-defaults";

    /// <summary>"true": the API server may put its own rules back at start (reconcile); "false"
    /// keeps an administrator's edits.</summary>
    public const string AutoUpdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate";

    /// <summary>The wildcard of verbs, apiGroups, resources and nonResourceURLs.</summary>
    public const string All = "*";
}

/// <summary>A namespaced set of permissions; bound to subjects by RoleBindings of its namespace.</summary>
[GenerateSerializer, Immutable, Alias("orch.Role")]
public sealed record Role : IResource<Role>
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public IReadOnlyList<PolicyRule>? Rules { get; init; }

    public static ResourceType Type => ResourceTypes.Role;

    public static Role ApplyDefaults(Role obj) => Defaults.Role(obj);

    public static void Validate(Role obj, Role? old, FieldErrors errors) => Validator.Role(obj, old, errors);

    public Role WithMetadata(ObjectMeta metadata) => this with { Metadata = metadata };

    [JsonIgnore] public object? DesiredState => Rules;

    public Role WithStatusOf(Role other) => this;
}

/// <summary>A cluster-wide set of permissions: bound cluster-wide by ClusterRoleBindings, or
/// within one namespace by a RoleBinding there.</summary>
[GenerateSerializer, Immutable, Alias("orch.ClusterRole")]
public sealed record ClusterRole : IResource<ClusterRole>
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public IReadOnlyList<PolicyRule>? Rules { get; init; }

    public static ResourceType Type => ResourceTypes.ClusterRole;

    public static ClusterRole ApplyDefaults(ClusterRole obj) => Defaults.ClusterRole(obj);

    public static void Validate(ClusterRole obj, ClusterRole? old, FieldErrors errors) => Validator.ClusterRole(obj, old, errors);

    public ClusterRole WithMetadata(ObjectMeta metadata) => this with { Metadata = metadata };

    [JsonIgnore] public object? DesiredState => Rules;

    public ClusterRole WithStatusOf(ClusterRole other) => this;
}

/// <summary>Grants a Role of its namespace, or a ClusterRole's rules within its namespace, to subjects.</summary>
[GenerateSerializer, Immutable, Alias("orch.RoleBinding")]
public sealed record RoleBinding : IResource<RoleBinding>
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public IReadOnlyList<Subject>? Subjects { get; init; }
    [Id(4)] public RoleRef RoleRef { get; init; } = new();

    public static ResourceType Type => ResourceTypes.RoleBinding;

    public static RoleBinding ApplyDefaults(RoleBinding obj) => Defaults.RoleBinding(obj);

    public static void Validate(RoleBinding obj, RoleBinding? old, FieldErrors errors) => Validator.RoleBinding(obj, old, errors);

    public RoleBinding WithMetadata(ObjectMeta metadata) => this with { Metadata = metadata };

    [JsonIgnore] public object? DesiredState => new { Subjects, RoleRef };

    public RoleBinding WithStatusOf(RoleBinding other) => this;
}

/// <summary>Grants a ClusterRole to subjects in every namespace and for cluster-scoped objects.</summary>
[GenerateSerializer, Immutable, Alias("orch.ClusterRoleBinding")]
public sealed record ClusterRoleBinding : IResource<ClusterRoleBinding>
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public IReadOnlyList<Subject>? Subjects { get; init; }
    [Id(4)] public RoleRef RoleRef { get; init; } = new();

    public static ResourceType Type => ResourceTypes.ClusterRoleBinding;

    public static ClusterRoleBinding ApplyDefaults(ClusterRoleBinding obj) => Defaults.ClusterRoleBinding(obj);

    public static void Validate(ClusterRoleBinding obj, ClusterRoleBinding? old, FieldErrors errors) => Validator.ClusterRoleBinding(obj, old, errors);

    public ClusterRoleBinding WithMetadata(ObjectMeta metadata) => this with { Metadata = metadata };

    [JsonIgnore] public object? DesiredState => new { Subjects, RoleRef };

    public ClusterRoleBinding WithStatusOf(ClusterRoleBinding other) => this;
}

/// <summary>What a rule allows: verbs on resources (with apiGroups, optionally only some names),
/// or verbs on non-resource URLs (ClusterRoles only). Every list is OR-ed; "*" matches anything.</summary>
[GenerateSerializer, Immutable, Alias("orch.PolicyRule")]
public sealed record PolicyRule
{
    [Id(0)] public IReadOnlyList<string> Verbs { get; init; } = [];
    [Id(1)] public IReadOnlyList<string>? ApiGroups { get; init; }
    [Id(2)] public IReadOnlyList<string>? Resources { get; init; }
    [Id(3)] public IReadOnlyList<string>? ResourceNames { get; init; }
    [Id(4), JsonPropertyName("nonResourceURLs")] public IReadOnlyList<string>? NonResourceUrls { get; init; }
}

/// <summary>The role a binding grants. Immutable once the binding exists: changing what a
/// binding grants means deleting it and creating another, so a grant is never widened in place.</summary>
[GenerateSerializer, Immutable, Alias("orch.RoleRef")]
public sealed record RoleRef
{
    [Id(0)] public string ApiGroup { get; init; } = "";
    [Id(1)] public string Kind { get; init; } = "";
    [Id(2)] public string Name { get; init; } = "";

    public override string ToString() => $"{{{ApiGroup} {Kind} {Name}}}";
}

/// <summary>Who a binding grants its role to: a User or Group by name, or a ServiceAccount by
/// namespace and name.</summary>
[GenerateSerializer, Immutable, Alias("orch.Subject")]
public sealed record Subject
{
    [Id(0)] public string Kind { get; init; } = "";
    [Id(1)] public string? ApiGroup { get; init; }
    [Id(2)] public string Name { get; init; } = "";
    [Id(3)] public string? Namespace { get; init; }
}
