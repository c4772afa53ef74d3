// FROZEN copy of the contract as of c9924009a65fa0df28f27e2766b04e66b20df1b4 (see README.md). Never edit.
namespace Orchestrator.Serialization;

/// <summary>The PATCH formats a grain applies to its object.</summary>
public enum PatchType
{
    /// <summary>JSON merge patch (RFC 7386), application/merge-patch+json.</summary>
    Merge,

    /// <summary>JSON patch (RFC 6902), application/json-patch+json.</summary>
    Json,
}
