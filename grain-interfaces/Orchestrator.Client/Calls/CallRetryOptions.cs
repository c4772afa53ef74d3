using Microsoft.Extensions.Options;

namespace Orchestrator.Calls;

/// <summary>
/// How long grain calls that failed without being processed (the target silo is gone and the
/// cluster has not settled yet) are retried before the failure reaches the caller. Bound from
/// "Orchestrator:CallRetry" by silos and clients alike.
/// </summary>
public sealed class CallRetryOptions
{
    public const string Section = "Orchestrator:CallRetry";

    /// <summary>
    /// Longest time one call is retried, counted from its first failure. It should cover failure
    /// detection (ClusterMembershipOptions ProbeTimeout × NumMissedProbesLimit, plus the vote) and
    /// the gateway list refresh of clients. Default 15 s; 0 turns retrying off.
    /// </summary>
    public TimeSpan MaxElapsed { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Wait before the first retry; doubles per attempt up to <see cref="MaxDelay"/>. Default 50 ms.</summary>
    public TimeSpan FirstDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Longest wait between two attempts. Default 1 s.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(1);
}

public sealed class CallRetryOptionsValidator : IValidateOptions<CallRetryOptions>
{
    public ValidateOptionsResult Validate(string? name, CallRetryOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (o.MaxElapsed < TimeSpan.Zero || o.FirstDelay <= TimeSpan.Zero || o.MaxDelay < o.FirstDelay)
        {
            return ValidateOptionsResult.Fail(
                "Orchestrator:CallRetry needs MaxElapsed >= 0 (e.g. 00:00:15), FirstDelay > 0 (e.g. 00:00:00.050) and MaxDelay >= FirstDelay (e.g. 00:00:01).");
        }
        return ValidateOptionsResult.Success;
    }
}
