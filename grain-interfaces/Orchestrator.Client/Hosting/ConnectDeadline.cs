using Microsoft.Extensions.Logging;

namespace Orchestrator.Client.Hosting;

/// <summary>
/// Retries the first connection to the control plane until a deadline, then gives up with an
/// error that says what to check, instead of waiting forever or failing at the first try. Works
/// for both profiles: embedded (the gateway port refuses connections until the silo is up) and
/// cluster (Redis lists no gateway until a silo has joined, or Redis itself is not up yet).
/// </summary>
/// <remarks>
/// The clock starts at the first failed attempt, which is the client's start: Orleans asks this
/// filter after each failed step of connecting (gateway list, gateway connection, cluster
/// manifest), and all of them share the one deadline.
/// </remarks>
public sealed partial class ConnectDeadline(ClusterSettings settings, OrchestratorClientOptions options, TimeProvider time, ILogger<ConnectDeadline> logger) : IClientConnectionRetryFilter
{
    /// <summary>Pause between attempts.</summary>
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(500);

    private DateTimeOffset? _deadline;

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        _deadline ??= now + options.ConnectTimeout;
        if (now + RetryDelay > _deadline)
        {
            LogGaveUp(logger, options.ConnectTimeout, settings.Describe());
            throw new ControlPlaneUnreachableException(
                $"Could not reach the control plane within {options.ConnectTimeout.TotalSeconds:0.#} s: no silo answered at {settings.Describe()}. "
                + "Is a silo running, and do Orchestrator:Profile, Orchestrator:ClusterId and "
                + (settings.IsCluster ? "Orchestrator:Redis" : "Orchestrator:GatewayPort")
                + " match the silos' settings? Set Orchestrator:ConnectTimeout to wait longer. "
                + $"Last error: {exception.GetType().Name}: {exception.Message}",
                exception);
        }
        LogRetrying(logger, settings.Describe(), exception.Message);
        await Task.Delay(RetryDelay, time, cancellationToken);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not reach the control plane within {Timeout} at {Where}; giving up")]
    private static partial void LogGaveUp(ILogger logger, TimeSpan timeout, string where);

    [LoggerMessage(Level = LogLevel.Information, Message = "Control plane not reachable yet at {Where} ({Reason}); retrying")]
    private static partial void LogRetrying(ILogger logger, string where, string reason);
}

/// <summary>The control plane could not be reached before <see cref="OrchestratorClientOptions.ConnectTimeout"/> passed.</summary>
public sealed class ControlPlaneUnreachableException(string message, Exception innerException) : Exception(message, innerException);
