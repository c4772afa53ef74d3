using Microsoft.Extensions.Logging;

namespace Orchestrator.NodeAgent.Proxy;

public sealed partial class ServiceProxy
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Service rules synced ({Kind}): {ServicePorts} service ports, {Rules} rules, {Written} lines written in {Milliseconds:F0} ms")]
    private static partial void LogSynced(ILogger logger, string kind, int servicePorts, int rules, int written, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Programming service rules failed; retrying in {Seconds} s")]
    private static partial void LogSyncFailed(ILogger logger, Exception exception, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "net.bridge.bridge-nf-call-iptables is not 1 (or br_netfilter is missing): a pod reaching a service endpoint on its own node will not get the reply un-NATed; set the sysctl to 1")]
    private static partial void LogNoBridgeNetfilter(ILogger logger);
}
