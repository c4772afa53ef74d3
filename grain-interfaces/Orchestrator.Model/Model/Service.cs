using System.Text.Json.Serialization;
using Orchestrator.Serialization;
using Orchestrator.Validation;

namespace Orchestrator.Model;

[GenerateSerializer, Immutable, Alias("orch.Service")]
public sealed record Service : IResource<Service>
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public ServiceSpec Spec { get; init; } = new();
    [Id(4)] public ServiceStatus? Status { get; init; }

    public static ResourceType Type => ResourceTypes.Service;

    public static Service ApplyDefaults(Service obj) => Defaults.Service(obj);

    public static void Validate(Service obj, Service? old, FieldErrors errors) => Validator.Service(obj, old, errors);

    public Service WithMetadata(ObjectMeta metadata) => this with { Metadata = metadata };

    [JsonIgnore] public object? DesiredState => Spec;

    public Service WithStatusOf(Service other) => this with { Status = other.Status };
}

[GenerateSerializer, Immutable, Alias("orch.ServiceSpec")]
public sealed record ServiceSpec
{
    /// <summary>ClusterIP (the default) or NodePort.</summary>
    [Id(0)] public string? Type { get; init; }
    [Id(1)] public IReadOnlyDictionary<string, string>? Selector { get; init; }
    [Id(2), MergeByKey("port", MapKeys = ["port", "protocol"])] public IReadOnlyList<ServicePort>? Ports { get; init; }
    /// <summary>Allocated from the service CIDR when empty; "None" makes a headless service.</summary>
    [Id(3)] public string? ClusterIP { get; init; }
    [Id(4)] public IReadOnlyList<string>? ClusterIPs { get; init; }
    /// <summary>None (the default) or ClientIP.</summary>
    [Id(5)] public string? SessionAffinity { get; init; }
    [Id(6)] public SessionAffinityConfig? SessionAffinityConfig { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ServicePort")]
public sealed record ServicePort
{
    [Id(0)] public string? Name { get; init; }
    [Id(1)] public string? Protocol { get; init; }
    [Id(2)] public int Port { get; init; }
    [Id(3)] public IntOrString? TargetPort { get; init; }
    [Id(4)] public int? NodePort { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.SessionAffinityConfig")]
public sealed record SessionAffinityConfig
{
    [Id(0)] public ClientIPConfig? ClientIP { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ClientIPConfig")]
public sealed record ClientIPConfig
{
    [Id(0)] public int? TimeoutSeconds { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ServiceStatus")]
public sealed record ServiceStatus
{
    [Id(0)] public LoadBalancerStatus? LoadBalancer { get; init; }
    [Id(1), MergeByKey("type")] public IReadOnlyList<Condition>? Conditions { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.LoadBalancerStatus")]
public sealed record LoadBalancerStatus
{
    [Id(0)] public IReadOnlyList<LoadBalancerIngress>? Ingress { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.LoadBalancerIngress")]
public sealed record LoadBalancerIngress
{
    [Id(0)] public string? Ip { get; init; }
    [Id(1)] public string? Hostname { get; init; }
}

public static class ServiceType
{
    public const string ClusterIP = "ClusterIP";
    public const string NodePort = "NodePort";
}

[GenerateSerializer, Immutable, Alias("orch.Endpoints")]
public sealed record Endpoints : IResource<Endpoints>
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public IReadOnlyList<EndpointSubset>? Subsets { get; init; }

    public static ResourceType Type => ResourceTypes.Endpoints;

    public static Endpoints ApplyDefaults(Endpoints obj) => Defaults.Endpoints(obj);

    public static void Validate(Endpoints obj, Endpoints? old, FieldErrors errors) => Validator.Endpoints(obj, old, errors);

    public Endpoints WithMetadata(ObjectMeta metadata) => this with { Metadata = metadata };

    [JsonIgnore] public object? DesiredState => Subsets;

    public Endpoints WithStatusOf(Endpoints other) => this;
}

[GenerateSerializer, Immutable, Alias("orch.EndpointSubset")]
public sealed record EndpointSubset
{
    [Id(0)] public IReadOnlyList<EndpointAddress>? Addresses { get; init; }
    [Id(1)] public IReadOnlyList<EndpointAddress>? NotReadyAddresses { get; init; }
    [Id(2)] public IReadOnlyList<EndpointPort>? Ports { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.EndpointAddress")]
public sealed record EndpointAddress
{
    [Id(0)] public string Ip { get; init; } = "";
    [Id(1)] public string? NodeName { get; init; }
    [Id(2)] public ObjectReference? TargetRef { get; init; }
    [Id(3)] public string? Hostname { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.EndpointPort")]
public sealed record EndpointPort
{
    [Id(0)] public string? Name { get; init; }
    [Id(1)] public int Port { get; init; }
    [Id(2)] public string? Protocol { get; init; }
}
