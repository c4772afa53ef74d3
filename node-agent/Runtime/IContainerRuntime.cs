using Orchestrator.Model;

namespace Orchestrator.NodeAgent.Runtime;

/// <summary>
/// What the agent needs from a container runtime (Kubernetes' CRI, trimmed): sandboxes (a
/// network namespace with an IP, shared by a pod's containers) and containers. Every sandbox and
/// container carries its pod's uid, so an agent that restarts finds what it was running.
/// </summary>
public interface IContainerRuntime
{
    /// <summary>"containerd://1.6.20" or "fake://1"; shown as the node's containerRuntimeVersion.</summary>
    string Version { get; }

    /// <summary>False for a runtime that runs no real processes (the fake one): probes there
    /// have nothing to reach, so they are taken as passing.</summary>
    bool ProbesReachContainers { get; }

    /// <summary>Creates the pod's sandbox if it does not exist yet (idempotent per pod uid).</summary>
    Task<Sandbox> RunSandboxAsync(Pod pod, CancellationToken cancellationToken);

    Task RemoveSandboxAsync(string podUid, CancellationToken cancellationToken);

    Task<IReadOnlyList<Sandbox>> ListSandboxesAsync(CancellationToken cancellationToken);

    /// <summary>Makes the image available per the pull policy; throws <see cref="RuntimeException"/>
    /// with reason ErrImagePull / ErrImageNeverPull when it cannot.</summary>
    Task EnsureImageAsync(string image, string pullPolicy, CancellationToken cancellationToken);

    /// <summary>Creates and starts one container of the pod; <paramref name="attempt"/> is its
    /// restart count, part of its identity so restarts never collide. <paramref name="agentMounts"/>
    /// are directories the agent prepared for it besides the pod's volumes (the ServiceAccount token).</summary>
    Task<string> StartContainerAsync(Pod pod, Container container, Sandbox sandbox, int attempt, IReadOnlyList<AgentMount> agentMounts, CancellationToken cancellationToken);

    /// <summary>SIGTERM, then SIGKILL after <paramref name="grace"/>.</summary>
    Task StopContainerAsync(string containerId, TimeSpan grace, CancellationToken cancellationToken);

    Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken);

    Task<IReadOnlyList<RuntimeContainer>> ListContainersAsync(CancellationToken cancellationToken);

    /// <summary>Reads a container's log (see <see cref="NodeProtocol.LogRequest"/> for the
    /// offset and tail semantics) for one instance of a container.</summary>
    Task<NodeProtocol.LogChunk> ReadLogAsync(RuntimeContainer container, NodeProtocol.LogRequest request, CancellationToken cancellationToken);

    /// <summary>Runs a command in a running container (exec probes).</summary>
    Task<ExecResult> ExecAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>A node directory the agent itself fills, bind-mounted into a container.</summary>
public sealed record AgentMount(string Source, string Destination, bool ReadOnly);

/// <summary>A pod's sandbox: its network namespace and address.</summary>
public sealed record Sandbox(string PodUid, string PodKey, string? NetworkNamespace, string? Ip);

public enum ContainerRunState
{
    Created,
    Running,
    Exited,
}

/// <summary>One container as the runtime sees it.</summary>
public sealed record RuntimeContainer(
    string Id,
    string PodUid,
    string PodKey,
    string Name,
    int Attempt,
    string Image,
    ContainerRunState State,
    int? ExitCode,
    string? Reason,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt);

public sealed record ExecResult(int ExitCode, string Output);

/// <summary>A runtime failure with the reason Kubernetes would show (ErrImagePull,
/// CreateContainerError, RunContainerError ...).</summary>
public sealed class RuntimeException(string reason, string message, Exception? inner = null) : Exception(message, inner)
{
    public string Reason { get; } = reason;
}
