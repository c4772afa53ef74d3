namespace Orchestrator.Grains.Security;

/// <summary>
/// Who made a request, as Kubernetes' authenticators describe a user: a name, the groups it
/// belongs to (RBAC binds roles to either), and for ServiceAccount tokens the bound object.
/// </summary>
[GenerateSerializer, Immutable, Alias("orch.UserInfo")]
public sealed record UserInfo
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public IReadOnlyList<string> Groups { get; init; } = [];
    [Id(2)] public string? Uid { get; init; }

    /// <summary>Extra attributes, e.g. "authentication.kubernetes.io/pod-name" of a bound token.</summary>
    [Id(3)] public IReadOnlyDictionary<string, IReadOnlyList<string>> Extra { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    public static readonly UserInfo Anonymous = new() { Name = SystemUsers.Anonymous, Groups = [SystemGroups.Unauthenticated] };

    public bool IsAnonymous => Name == SystemUsers.Anonymous;

    public bool InGroup(string group) => Groups.Contains(group);

    /// <summary>The node a node credential belongs to ("system:node:worker-1" → "worker-1"), or null.</summary>
    public string? NodeName => Name.StartsWith(SystemUsers.NodePrefix, StringComparison.Ordinal) && InGroup(SystemGroups.Nodes) ? Name[SystemUsers.NodePrefix.Length..] : null;
}

/// <summary>User names Kubernetes gives a meaning to.</summary>
public static class SystemUsers
{
    public const string Anonymous = "system:anonymous";

    /// <summary>The admin of the kubeconfig written at first start (k3s: "system:admin").</summary>
    public const string Admin = "system:admin";

    /// <summary>A node agent: "system:node:" + node name.</summary>
    public const string NodePrefix = "system:node:";

    /// <summary>A ServiceAccount: "system:serviceaccount:" + namespace + ":" + name.</summary>
    public const string ServiceAccountPrefix = "system:serviceaccount:";

    public static string ServiceAccount(string ns, string name) => $"{ServiceAccountPrefix}{ns}:{name}";

    public static string Node(string name) => NodePrefix + name;
}

/// <summary>Group names Kubernetes gives a meaning to.</summary>
public static class SystemGroups
{
    /// <summary>Bound to cluster-admin by default: may do anything.</summary>
    public const string Masters = "system:masters";
    public const string Authenticated = "system:authenticated";
    public const string Unauthenticated = "system:unauthenticated";
    public const string Nodes = "system:nodes";
    public const string ServiceAccounts = "system:serviceaccounts";

    public static string ServiceAccountsOf(string ns) => $"system:serviceaccounts:{ns}";
}
