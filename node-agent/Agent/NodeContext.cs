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

    public void WorkerFinished(PodWorker worker) => workerFinished(worker);
}
