using System.Text.Json.Serialization;
using Orchestrator.Serialization;
using Orchestrator.Validation;

namespace Orchestrator.Model;

[GenerateSerializer, Immutable, Alias("orch.Node")]
public sealed record Node : IResource<Node>
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public NodeSpec Spec { get; init; } = new();
    [Id(4)] public NodeStatus? Status { get; init; }

    public static ResourceType Type => ResourceTypes.Node;

    public static Node ApplyDefaults(Node obj) => Defaults.Node(obj);

    public static void Validate(Node obj, Node? old, FieldErrors errors) => Validator.Node(obj, old, errors);

    public Node WithMetadata(ObjectMeta metadata) => this with { Metadata = metadata };

    [JsonIgnore] public object? DesiredState => Spec;

    public Node WithStatusOf(Node other) => this with { Status = other.Status };
}

[GenerateSerializer, Immutable, Alias("orch.NodeSpec")]
public sealed record NodeSpec
{
    [Id(0)] public string? PodCIDR { get; init; }
    [Id(1), MergeAsSet] public IReadOnlyList<string>? PodCIDRs { get; init; }
    [Id(2)] public bool? Unschedulable { get; init; }
    [Id(3)] public IReadOnlyList<Taint>? Taints { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.Taint")]
public sealed record Taint
{
    [Id(0)] public string Key { get; init; } = "";
    [Id(1)] public string? Value { get; init; }
    /// <summary>NoSchedule, PreferNoSchedule or NoExecute.</summary>
    [Id(2)] public string Effect { get; init; } = "";
    [Id(3)] public DateTimeOffset? TimeAdded { get; init; }
}

public static class TaintEffect
{
    public const string NoSchedule = "NoSchedule";
    public const string PreferNoSchedule = "PreferNoSchedule";
    public const string NoExecute = "NoExecute";
}

[GenerateSerializer, Immutable, Alias("orch.NodeStatus")]
public sealed record NodeStatus
{
    [Id(0)] public IReadOnlyDictionary<string, Quantity>? Capacity { get; init; }
    [Id(1)] public IReadOnlyDictionary<string, Quantity>? Allocatable { get; init; }
    [Id(2), MergeByKey("type")] public IReadOnlyList<Condition>? Conditions { get; init; }
    [Id(3), MergeByKey("type")] public IReadOnlyList<NodeAddress>? Addresses { get; init; }
    [Id(4)] public NodeSystemInfo? NodeInfo { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.NodeAddress")]
public sealed record NodeAddress
{
    /// <summary>InternalIP, ExternalIP or Hostname.</summary>
    [Id(0)] public string Type { get; init; } = "";
    [Id(1)] public string Address { get; init; } = "";
}

[GenerateSerializer, Immutable, Alias("orch.NodeSystemInfo")]
public sealed record NodeSystemInfo
{
    [Id(0)] public string? MachineID { get; init; }
    [Id(1)] public string? KernelVersion { get; init; }
    [Id(2)] public string? OsImage { get; init; }
    [Id(3)] public string? ContainerRuntimeVersion { get; init; }
    [Id(4)] public string? KubeletVersion { get; init; }
    [Id(5)] public string? KubeProxyVersion { get; init; }
    [Id(6)] public string? OperatingSystem { get; init; }
    [Id(7)] public string? Architecture { get; init; }
    [Id(8)] public string? BootID { get; init; }
    [Id(9)] public string? SystemUUID { get; init; }
}

public static class NodeConditionType
{
    public const string Ready = "Ready";
}

/// <summary>The taints the node lifecycle controller puts on nodes that stop being Ready.</summary>
public static class NodeTaints
{
    public const string NotReady = "node.kubernetes.io/not-ready";
    public const string Unreachable = "node.kubernetes.io/unreachable";
}

public static class ResourceName
{
    public const string Cpu = "cpu";
    public const string Memory = "memory";
    public const string Pods = "pods";
    public const string EphemeralStorage = "ephemeral-storage";
}

public static class NodeExtensions
{
    public static Condition? ReadyCondition(this Node node) => node.Status?.Conditions?.FirstOrDefault(c => c.Type == NodeConditionType.Ready);

    public static bool IsReady(this Node node) => node.ReadyCondition()?.Status == ConditionStatus.True;

    public static Quantity? Allocatable(this Node node, string resource) =>
        node.Status?.Allocatable is { } a && a.TryGetValue(resource, out var q) ? q : (Quantity?)null;
}
