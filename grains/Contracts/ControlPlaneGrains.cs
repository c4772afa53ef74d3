using Orleans.Concurrency;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.Grains;

/// <summary>A grain that reconciles when something it owns or watches changes. Reached with
/// <c>AsReference&lt;IReconciler&gt;()</c> on the kind's grain (see <c>KindRegistry</c>).</summary>
[Alias("orch.IReconciler")]
public interface IReconciler : IAddressable
{
    /// <summary>A hint that something changed: reconcile soon. Several pokes in a row coalesce
    /// into one reconcile, and the reconcile re-reads everything it needs.</summary>
    [Alias("Poke"), OneWay]
    Task PokeAsync();
}

/// <summary>What only the control plane does to a pod: the scheduler binds it or says why it
/// cannot, the node controller gives up on it when its node is lost.</summary>
[Alias("orch.IPodControlGrain")]
public interface IPodControlGrain : IGrainWithStringKey
{
    /// <summary>Binds the pod to a node (the scheduler's Binding). Fails with 409 when the pod is
    /// already bound, is being deleted, or its uid is not <paramref name="uid"/>.</summary>
    [Alias("Bind")]
    Task<Pod> BindAsync(string nodeName, string uid);

    /// <summary>Records why the pod cannot be scheduled (PodScheduled=False, reason Unschedulable).</summary>
    [Alias("MarkUnschedulable")]
    Task MarkUnschedulableAsync(string uid, string message);

    /// <summary>The control plane gives up on a pod whose node was lost (a pod without a
    /// controller; controlled pods are deleted and replaced instead): phase Failed, and the node's
    /// agent, if it comes back, stops it and may no longer report it as running.</summary>
    [Alias("MarkFailed")]
    Task MarkFailedAsync(string uid, string reason, string message);
}
