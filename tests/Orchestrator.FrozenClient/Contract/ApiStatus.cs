// FROZEN copy of the contract as of c9924009a65fa0df28f27e2766b04e66b20df1b4 (see README.md). Never edit.
// Without the PropagationPolicy constants.
using System.Text.Json.Serialization;

namespace Orchestrator.Model;

/// <summary>Kubernetes' metav1.Status: the body of every error response.</summary>
[GenerateSerializer, Immutable, Alias("orch.ApiStatus")]
public sealed record ApiStatus
{
    [Id(0)] public string ApiVersion { get; init; } = "v1";
    [Id(1)] public string Kind { get; init; } = "Status";
    [Id(2)] public ListMeta Metadata { get; init; } = new();
    /// <summary>"Success" or "Failure".</summary>
    [Id(3)] public string Status { get; init; } = "Failure";
    [Id(4)] public string? Message { get; init; }
    /// <summary>A machine-readable reason: NotFound, AlreadyExists, Conflict, Invalid, BadRequest ...</summary>
    [Id(5)] public string? Reason { get; init; }
    [Id(6)] public StatusDetails? Details { get; init; }
    [Id(7)] public int Code { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ListMeta")]
public sealed record ListMeta
{
    [Id(0)] public string? ResourceVersion { get; init; }
    [Id(1), JsonPropertyName("continue")] public string? Continue { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.StatusDetails")]
public sealed record StatusDetails
{
    [Id(0)] public string? Name { get; init; }
    [Id(1)] public string? Group { get; init; }
    [Id(2)] public string? Kind { get; init; }
    [Id(3)] public string? Uid { get; init; }
    [Id(4)] public IReadOnlyList<StatusCause>? Causes { get; init; }
    [Id(5)] public int? RetryAfterSeconds { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.StatusCause")]
public sealed record StatusCause
{
    /// <summary>FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueDuplicate ...</summary>
    [Id(0)] public string? Reason { get; init; }
    [Id(1)] public string? Message { get; init; }
    [Id(2)] public string? Field { get; init; }
}

/// <summary>Kubernetes' DeleteOptions, from a DELETE's body or query.</summary>
[GenerateSerializer, Immutable, Alias("orch.DeleteOptions")]
public sealed record DeleteOptions
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    /// <summary>Seconds before a pod is killed; 0 deletes at once. Null: the pod's own setting.</summary>
    [Id(2)] public long? GracePeriodSeconds { get; init; }
    /// <summary>Background (the default), Foreground or Orphan.</summary>
    [Id(3)] public string? PropagationPolicy { get; init; }
    [Id(4)] public Preconditions? Preconditions { get; init; }
    [Id(5)] public IReadOnlyList<string>? DryRun { get; init; }
    [Id(6)] public bool? OrphanDependents { get; init; }

    public static DeleteOptions Default { get; } = new();
}

[GenerateSerializer, Immutable, Alias("orch.Preconditions")]
public sealed record Preconditions
{
    [Id(0)] public string? Uid { get; init; }
    [Id(1)] public string? ResourceVersion { get; init; }
}

public static class StatusReason
{
    public const string BadRequest = "BadRequest";
    public const string NotFound = "NotFound";
    public const string AlreadyExists = "AlreadyExists";
    public const string Conflict = "Conflict";
    public const string Invalid = "Invalid";
    public const string Gone = "Gone";
    public const string Expired = "Expired";
    public const string Forbidden = "Forbidden";
    public const string MethodNotAllowed = "MethodNotAllowed";
    public const string RequestEntityTooLarge = "RequestEntityTooLarge";
    public const string UnsupportedMediaType = "UnsupportedMediaType";
    public const string NotAcceptable = "NotAcceptable";
    public const string ServiceUnavailable = "ServiceUnavailable";
    public const string InternalError = "InternalError";
    public const string Timeout = "Timeout";
}
