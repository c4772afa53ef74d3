using Microsoft.Extensions.Logging;

namespace Orchestrator.Grains;

/// <summary>Source-generated log messages of the grains.</summary>
internal static partial class Log
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Storing {Kind} {Key} failed")]
    public static partial void StorageWriteFailed(this ILogger logger, Exception exception, string kind, string key);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconciling {Kind} {Key} failed ({Failures} in a row); retrying in {Delay}")]
    public static partial void ReconcileFailed(this ILogger logger, Exception exception, string kind, string key, int failures, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not confirm the resync reminder of {Kind} {Key}; trying again in {Delay}")]
    public static partial void ReminderUnconfirmed(this ILogger logger, Exception exception, string kind, string key, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bound pod {Pod} to node {Node}")]
    public static partial void PodBound(this ILogger logger, string pod, string node);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scheduling pass failed")]
    public static partial void SchedulingFailed(this ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {Node} is {Status}: {Message}")]
    public static partial void NodeReadyChanged(this ILogger logger, string node, string status, string message);
}
