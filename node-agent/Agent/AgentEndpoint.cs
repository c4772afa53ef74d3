using Orchestrator.GrainInterfaces;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.NodeProtocol;

namespace Orchestrator.NodeAgent.Agent;

/// <summary>Serves the node's container logs to the control plane.</summary>
internal sealed class AgentEndpoint(IContainerRuntime runtime) : INodeAgentEndpoint
{
    public async Task<LogChunk> ReadLogAsync(LogRequest request)
    {
        var attempts = (await runtime.ListContainersAsync(CancellationToken.None))
            .Where(c => c.PodUid == request.PodUid && c.Name == request.Container)
            .OrderBy(c => c.Attempt)
            .ToList();
        var instance = request.Previous ? (attempts.Count > 1 ? attempts[^2] : null) : attempts.LastOrDefault();
        if (instance is null)
        {
            return new LogChunk { Found = false };
        }
        return await runtime.ReadLogAsync(instance, request, CancellationToken.None);
    }
}
