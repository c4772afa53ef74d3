// FROZEN copy of the contract as of c9924009a65fa0df28f27e2766b04e66b20df1b4 (see README.md). Never edit.
// Deliberately without Uid (3), Generation (5), CreationTimestamp (6), Annotations (10) and
// OwnerReferences (11): fields a newer silo sends that this client does not know.
namespace Orchestrator.Model;

/// <summary>Kubernetes' ObjectMeta: what every persisted object carries.</summary>
[GenerateSerializer, Immutable, Alias("orch.ObjectMeta")]
public sealed record ObjectMeta
{
    [Id(0)] public string? Name { get; init; }
    [Id(1)] public string? GenerateName { get; init; }
    [Id(2)] public string? Namespace { get; init; }
    [Id(4)] public string? ResourceVersion { get; init; }
    [Id(7)] public DateTimeOffset? DeletionTimestamp { get; init; }
    [Id(8)] public long? DeletionGracePeriodSeconds { get; init; }
    [Id(9)] public IReadOnlyDictionary<string, string>? Labels { get; init; }
    [Id(12)] public IReadOnlyList<string>? Finalizers { get; init; }
}
