namespace Orchestrator.Model;

/// <summary>
/// authentication.k8s.io/v1 TokenRequest: what POST .../serviceaccounts/{name}/token takes and
/// answers (kubectl create token). Not a stored kind: the token lives only in the answer.
/// </summary>
[GenerateSerializer, Immutable, Alias("orch.TokenRequest")]
public sealed record TokenRequest
{
    public static readonly ResourceType Type = new("authentication.k8s.io", "v1", "TokenRequest", "tokenrequests", Namespaced: true, HasStatus: true);

    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public TokenRequestSpec Spec { get; init; } = new();
    [Id(4)] public TokenRequestStatus? Status { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.TokenRequestSpec")]
public sealed record TokenRequestSpec
{
    /// <summary>Who the token is for; empty means the API server itself.</summary>
    [Id(0)] public IReadOnlyList<string>? Audiences { get; init; }

    [Id(1)] public long? ExpirationSeconds { get; init; }

    /// <summary>A pod the token is bound to: it stops working when the pod is gone.</summary>
    [Id(2)] public BoundObjectReference? BoundObjectRef { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.BoundObjectReference")]
public sealed record BoundObjectReference
{
    [Id(0)] public string? Kind { get; init; }
    [Id(1)] public string? ApiVersion { get; init; }
    [Id(2)] public string? Name { get; init; }
    [Id(3)] public string? Uid { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.TokenRequestStatus")]
public sealed record TokenRequestStatus
{
    [Id(0)] public string Token { get; init; } = "";
    [Id(1)] public DateTimeOffset ExpirationTimestamp { get; init; }
}
