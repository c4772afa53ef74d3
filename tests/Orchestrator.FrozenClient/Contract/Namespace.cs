// FROZEN copy of the contract as of c9924009a65fa0df28f27e2766b04e66b20df1b4 (see README.md). Never edit.
namespace Orchestrator.Model;

[GenerateSerializer, Immutable, Alias("orch.Namespace")]
public sealed record Namespace
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public NamespaceSpec? Spec { get; init; }
    [Id(4)] public NamespaceStatus? Status { get; init; }
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
