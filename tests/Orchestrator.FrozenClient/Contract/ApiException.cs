// FROZEN copy of the contract as of c9924009a65fa0df28f27e2766b04e66b20df1b4 (see README.md). Never edit.
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
