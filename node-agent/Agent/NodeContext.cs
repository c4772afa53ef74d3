using Microsoft.Extensions.Logging;
using Orchestrator.NodeAgent.Runtime;

namespace Orchestrator.NodeAgent.Agent;

/// <summary>What the pod workers of one node share.</summary>
internal sealed class NodeContext(
    string nodeName,
    NodeAgentOptions options,
    IGrainFactory grains,
    IContainerRuntime runtime,
    TimeProvider time,
    ILogger logger,
    HttpClient probeClient,
    Action<PodWorker> workerFinished)
{
    public string NodeName { get; } = nodeName;

    public NodeAgentOptions Options { get; } = options;

    public IGrainFactory Grains { get; } = grains;

    public IContainerRuntime Runtime { get; } = runtime;

    public TimeProvider Time { get; } = time;

    public ILogger Logger { get; } = logger;

    public HttpClient ProbeClient { get; } = probeClient;

    public string? HostIP { get; set; }

    private volatile bool _reportsPaused = true;

    /// <summary>True while the agent has lost contact with the control plane and has not yet
    /// re-learned which of its pods are still its own (see NodeAgent's fence): pod workers keep
    /// their containers running but send no status, so that what they saw before contact was lost
    /// never lands over what the control plane decided meanwhile. Paused until the first fence.</summary>
    public bool ReportsPaused
    {
        get => _reportsPaused;
        set => _reportsPaused = value;
    }

    public void WorkerFinished(PodWorker worker) => workerFinished(worker);
}
