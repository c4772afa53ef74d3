using System.Text.Json.Serialization;
using Orchestrator.Validation;

namespace Orchestrator.Model;

[GenerateSerializer, Immutable, Alias("orch.Namespace")]
public sealed record Namespace : IResource<Namespace>
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public NamespaceSpec? Spec { get; init; }
    [Id(4)] public NamespaceStatus? Status { get; init; }

    public static ResourceType Type => ResourceTypes.Namespace;

    public static Namespace ApplyDefaults(Namespace obj) => Defaults.Namespace(obj);

    public static void Validate(Namespace obj, Namespace? old, FieldErrors errors) => Validator.Namespace(obj, old, errors);

    public Namespace WithMetadata(ObjectMeta metadata) => this with { Metadata = metadata };

    [JsonIgnore] public object? DesiredState => Spec;

    public Namespace WithStatusOf(Namespace other) => this with { Status = other.Status };
}

[GenerateSerializer, Immutable, Alias("orch.NamespaceSpec")]
public sealed record NamespaceSpec
{
    [Id(0)] public IReadOnlyList<string>? Finalizers { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.NamespaceStatus")]
public sealed record NamespaceStatus
{
    /// <summary>Active or Terminating.</summary>
    [Id(0)] public string? Phase { get; init; }
}
