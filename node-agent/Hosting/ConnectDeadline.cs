using Microsoft.Extensions.Logging;

namespace Orchestrator.NodeAgent.Hosting;

/// <summary>
/// Retries the first connection to the control plane until a deadline, then gives up with an
/// error that says what to check, instead of waiting forever or failing at the first try.
/// </summary>
public sealed partial class ConnectDeadline(ClusterClientSettings settings, TimeProvider time, ILogger<ConnectDeadline> logger) : IClientConnectionRetryFilter
{
    private readonly DateTimeOffset _deadline = time.GetUtcNow() + settings.ConnectTimeout;

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        if (time.GetUtcNow() >= _deadline)
        {
            LogGaveUp(logger, settings.ConnectTimeout, settings.Profile, settings.GatewayPort);
            return false;
        }
        LogRetrying(logger, exception.Message);
        await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not reach the control plane within {Timeout} (profile {Profile}, gateway port {Port}); is a silo running? Set Orchestrator:ConnectTimeout to wait longer")]
    private static partial void LogGaveUp(ILogger logger, TimeSpan timeout, string profile, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "Control plane not reachable yet ({Reason}); retrying")]
    private static partial void LogRetrying(ILogger logger, string reason);
}
