using Microsoft.Extensions.Logging;

namespace Orchestrator.NodeAgent.Runtime.Containerd;

public sealed partial class ContainerdRuntime
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Started container {Id} ({Container}, attempt {Attempt}) of pod {Pod}")]
    private static partial void LogContainerStarted(ILogger logger, string id, string pod, string container, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Container {Id} exited with code {ExitCode} ({Reason})")]
    private static partial void LogContainerExited(ILogger logger, string id, int exitCode, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed container {Id}")]
    private static partial void LogContainerRemoved(ILogger logger, string id);

    [LoggerMessage(Level = LogLevel.Information, Message = "Adopted container {Id} of pod {Pod}, found in containerd")]
    private static partial void LogAdopted(ILogger logger, string id, string pod);

    [LoggerMessage(Level = LogLevel.Information, Message = "Container {Id} outlived its grace period of {Grace}; sending SIGKILL")]
    private static partial void LogKilling(ILogger logger, string id, TimeSpan grace);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sending {Signal} to container {Id} failed: {Message}")]
    private static partial void LogSignalFailed(ILogger logger, string signal, string id, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting {What} {Id} failed: {Message}")]
    private static partial void LogDeleteFailed(ILogger logger, string what, string id, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording the exit of container {Id} in its labels failed: {Message}")]
    private static partial void LogLabelFailed(ILogger logger, string id, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pulling image {Image}")]
    private static partial void LogPulling(ILogger logger, string image);
}
