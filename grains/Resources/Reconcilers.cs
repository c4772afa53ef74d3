using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.Grains.Resources;

/// <summary>Finds the controller grain for an owner named in an ownerReference.</summary>
public static class Reconcilers
{
    public static IReconciler? For(IGrainFactory grains, string kind, string? ns, string name) => kind switch
    {
        "Deployment" => grains.GetGrain<IDeploymentGrain>(ResourceTypes.Deployment.Key(ns, name)),
        "ReplicaSet" => grains.GetGrain<IReplicaSetGrain>(ResourceTypes.ReplicaSet.Key(ns, name)),
        "Service" => grains.GetGrain<IServiceGrain>(ResourceTypes.Service.Key(ns, name)),
        "Namespace" => grains.GetGrain<INamespaceGrain>(name),
        "Node" => grains.GetGrain<INodeGrain>(name),
        _ => null,
    };
}
