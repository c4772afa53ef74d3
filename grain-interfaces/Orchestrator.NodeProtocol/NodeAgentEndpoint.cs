namespace Orchestrator.NodeProtocol;

/// <summary>
/// What a node agent serves to the control plane (Kubernetes' kubelet API, carried over the
/// agent's Orleans connection instead of a port of its own): container logs. The agent attaches
/// it to its node grain when it registers and re-attaches it with every heartbeat.
/// </summary>
[Alias("orch.INodeAgentEndpoint")]
public interface INodeAgentEndpoint : IGrainObserver
{
    [Alias("ReadLog")]
    Task<LogChunk> ReadLogAsync(LogRequest request);
}

/// <summary>A read of one container's log. With <see cref="Offset"/> null the read starts at
/// the last <see cref="TailLines"/> lines (or the beginning); otherwise at that byte offset, which
/// is how a follow keeps reading.</summary>
[GenerateSerializer, Immutable, Alias("orch.LogRequest")]
public sealed record LogRequest
{
    [Id(0)] public string PodUid { get; init; } = "";
    [Id(1)] public string Container { get; init; } = "";
    /// <summary>The previous (exited) instance of the container instead of the current one.</summary>
    [Id(2)] public bool Previous { get; init; }
    [Id(3)] public long? Offset { get; init; }
    [Id(4)] public int? TailLines { get; init; }
    [Id(5)] public int MaxBytes { get; init; } = 1024 * 1024;
}

[GenerateSerializer, Immutable, Alias("orch.LogChunk")]
public sealed record LogChunk
{
    [Id(0)] public string Text { get; init; } = "";
    /// <summary>Where the next read continues.</summary>
    [Id(1)] public long NextOffset { get; init; }
    /// <summary>False when the agent has no log for that container (never started, or removed).</summary>
    [Id(2)] public bool Found { get; init; }
    /// <summary>True while the container still runs, so a follow should keep reading.</summary>
    [Id(3)] public bool Running { get; init; }
}
