using System.Diagnostics;

namespace Orchestrator.Calls;

/// <summary>
/// A deadline for the grain calls a caller makes inside a scope: <see cref="TransientCallRetryFilter"/>
/// stops retrying them once it has passed. For calls whose caller gives up on them early and
/// whose late arrival would do harm: a node agent abandons a heartbeat after 2 s, and a heartbeat
/// the filter kept retrying through a network cut would land after the cut healed and mark the
/// node Ready before the agent had fenced its pods. Kept in an <see cref="AsyncLocal{T}"/>, so it
/// applies to calls started inside the scope on this process only and never travels with them.
/// </summary>
public static class CallDeadline
{
    private static readonly AsyncLocal<long?> Current = new();

    /// <summary>Calls started until the returned scope is disposed are not retried more than
    /// <paramref name="timeout"/> after now.</summary>
    public static Scope Within(TimeSpan timeout)
    {
        var previous = Current.Value;
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        Current.Value = previous is { } p && p < deadline ? p : deadline;
        return new Scope(previous);
    }

    /// <summary>Time left before the deadline of the current scope; null outside any scope.</summary>
    public static TimeSpan? Remaining => Current.Value is { } d
        ? TimeSpan.FromSeconds((double)(d - Stopwatch.GetTimestamp()) / Stopwatch.Frequency)
        : null;

    public readonly struct Scope(long? previous) : IDisposable
    {
        public void Dispose() => Current.Value = previous;
    }
}
