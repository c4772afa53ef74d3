namespace Orchestrator.Model;

/// <summary>
/// An error with a Kubernetes Status: thrown by grains and the API alike, carried across grain
/// calls, and written to HTTP clients as the response body with <c>Status.Code</c>.
/// </summary>
[GenerateSerializer, Alias("orch.ApiException")]
public sealed class ApiException : Exception
{
    public ApiException()
    {
        Status = new ApiStatus { Code = 500, Reason = StatusReason.InternalError };
    }

    public ApiException(ApiStatus status) : base(status.Message)
    {
        Status = status;
    }

    /// <summary>A Status for a failure of another kind (a grain call lost with its silo), which
    /// stays available as the inner exception.</summary>
    public ApiException(ApiStatus status, Exception? innerException) : base(status.Message, innerException)
    {
        Status = status;
    }

    [Id(0)] public ApiStatus Status { get; private set; }

    public int Code => Status.Code;

    public string? Reason => Status.Reason;
}

/// <summary>Builds the Status objects Kubernetes returns, with its wording.</summary>
public static class ApiErrors
{
    public static ApiException NotFound(ResourceType type, string name) => New(404, StatusReason.NotFound,
        $"{type.QualifiedResource} \"{name}\" not found", Details(type, name));

    public static ApiException AlreadyExists(ResourceType type, string name) => New(409, StatusReason.AlreadyExists,
        $"{type.QualifiedResource} \"{name}\" already exists", Details(type, name));

    public static ApiException Conflict(ResourceType type, string name, string detail) => New(409, StatusReason.Conflict,
        $"Operation cannot be fulfilled on {type.QualifiedResource} \"{name}\": {detail}", Details(type, name));

    public const string StaleObjectMessage = "the object has been modified; please apply your changes to the latest version and try again";

    public static ApiException Invalid(ResourceType type, string? name, Validation.FieldErrors errors)
    {
        var messages = errors.Select(e => e.ToString()).ToList();
        var summary = messages.Count == 1 ? messages[0] : "[" + string.Join(", ", messages) + "]";
        return New(422, StatusReason.Invalid, $"{type.QualifiedKind} \"{name}\" is invalid: {summary}", Details(type, name ?? "") with
        {
            Kind = type.Kind,
            Causes = errors.Select(e => new StatusCause { Reason = e.Reason, Message = e.Body, Field = e.Field }).ToList(),
        });
    }

    /// <summary>A well-formed request that cannot be carried out (a JSON patch whose test fails, say).</summary>
    public static ApiException Unprocessable(string message) => New(422, StatusReason.Invalid, message);

    public static ApiException BadRequest(string message, IReadOnlyList<StatusCause>? causes = null) =>
        New(400, StatusReason.BadRequest, message, causes is null ? null : new StatusDetails { Causes = causes });

    public static ApiException Forbidden(ResourceType type, string name, string detail) => New(403, StatusReason.Forbidden,
        $"{type.QualifiedResource} \"{name}\" is forbidden: {detail}", Details(type, name));

    public static ApiException Gone(string message) => New(410, StatusReason.Expired, message);

    public static ApiException MethodNotAllowed(string message) => New(405, StatusReason.MethodNotAllowed, message);

    public static ApiException TooLarge(string message) => New(413, StatusReason.RequestEntityTooLarge, message);

    public static ApiException UnsupportedMediaType(string contentType) => New(415, StatusReason.UnsupportedMediaType,
        $"the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got \"{contentType}\")");

    /// <summary>No representation the client accepts (Kubernetes' 406 wording).</summary>
    public static ApiException NotAcceptable(string accepted) => New(406, StatusReason.NotAcceptable,
        $"only the following media types are accepted: {accepted}");

    public static ApiException Unavailable(string message, int retryAfterSeconds = 1) => New(503, StatusReason.ServiceUnavailable, message,
        new StatusDetails { RetryAfterSeconds = retryAfterSeconds });

    public static ApiException Internal(string message) => New(500, StatusReason.InternalError, message);

    private static StatusDetails Details(ResourceType type, string name) => new() { Name = name, Group = type.Group, Kind = type.Plural };

    private static ApiException New(int code, string reason, string message, StatusDetails? details = null) =>
        new(new ApiStatus { Code = code, Reason = reason, Message = message, Details = details });
}
