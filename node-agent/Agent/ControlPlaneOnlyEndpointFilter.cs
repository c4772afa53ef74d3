using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Model;
using Orchestrator.NodeProtocol;

namespace Orchestrator.NodeAgent.Agent;

/// <summary>
/// The node agent's endpoint (<see cref="INodeAgentEndpoint"/>: container logs) answers only the
/// control plane, as the kubelet's API accepts only the apiserver: each call must carry a
/// <see cref="ControlPlaneCallProof"/> signed by a silo certificate of the cluster CA for this
/// very endpoint. Other calls the client receives (Orleans' own gateway notices) pass.
/// </summary>
public sealed class ControlPlaneOnlyEndpointFilter(ControlPlaneCallVerifier verifier) : IIncomingGrainCallFilter
{
    public ControlPlaneOnlyEndpointFilter(Func<X509Certificate2> clusterCa, TimeProvider time)
        : this(new ControlPlaneCallVerifier(clusterCa, time))
    {
    }

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.InterfaceMethod?.DeclaringType != typeof(INodeAgentEndpoint)
            || verifier.Verify(RequestContext.Get(ControlPlaneCallProof.Key), context.TargetId.ToString()))
        {
            return context.Invoke();
        }
        throw new ApiException(new ApiStatus
        {
            Code = 403,
            Reason = StatusReason.Forbidden,
            Message = "the node agent's endpoint accepts calls of the control plane only",
        });
    }
}

public static class ControlPlaneOnlyEndpointHosting
{
    /// <summary>Guards the agent's endpoint with <see cref="ControlPlaneOnlyEndpointFilter"/>
    /// against <paramref name="clusterCa"/> (the CA the agent trusts the gateway with, known once
    /// the node has joined, and after a renewal the one it got then). The Orleans client reads
    /// its incoming call filters from these services.</summary>
    public static IServiceCollection AddControlPlaneOnlyEndpoint(this IServiceCollection services, Func<X509Certificate2> clusterCa) =>
        services.AddSingleton<IIncomingGrainCallFilter>(sp => new ControlPlaneOnlyEndpointFilter(clusterCa, sp.GetService<TimeProvider>() ?? TimeProvider.System));
}
