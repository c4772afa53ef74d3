using Orchestrator.Model;

namespace Orchestrator.Grains.Index;

// One index grain per kind, with a pinned grain type: stored identities derive from it.

[GrainType("pod-index")]
public sealed class PodIndexGrain(
    [PersistentState("index", "resources")] IPersistentState<IndexState> state,
    IndexServices services)
    : ResourceIndexGrain<Pod>(state, services)
{
    // Node agents list and watch the pods of their node: file pods by node name.
    protected override IEnumerable<string> SecondaryKeys(Pod obj) =>
        string.IsNullOrEmpty(obj.Spec.NodeName) ? base.SecondaryKeys(obj) : base.SecondaryKeys(obj).Append("node:" + obj.Spec.NodeName);

    protected override string? SecondaryKeyForField(string field, string value) =>
        field == "spec.nodeName" && value.Length > 0 ? "node:" + value : null;
}

[GrainType("node-index")]
public sealed class NodeIndexGrain(
    [PersistentState("index", "resources")] IPersistentState<IndexState> state,
    IndexServices services)
    : ResourceIndexGrain<Node>(state, services);

[GrainType("namespace-index")]
public sealed class NamespaceIndexGrain(
    [PersistentState("index", "resources")] IPersistentState<IndexState> state,
    IndexServices services)
    : ResourceIndexGrain<Namespace>(state, services);

[GrainType("service-index")]
public sealed class ServiceIndexGrain(
    [PersistentState("index", "resources")] IPersistentState<IndexState> state,
    IndexServices services)
    : ResourceIndexGrain<Service>(state, services);

[GrainType("endpoints-index")]
public sealed class EndpointsIndexGrain(
    [PersistentState("index", "resources")] IPersistentState<IndexState> state,
    IndexServices services)
    : ResourceIndexGrain<Endpoints>(state, services);

[GrainType("replicaset-index")]
public sealed class ReplicaSetIndexGrain(
    [PersistentState("index", "resources")] IPersistentState<IndexState> state,
    IndexServices services)
    : ResourceIndexGrain<ReplicaSet>(state, services);

[GrainType("deployment-index")]
public sealed class DeploymentIndexGrain(
    [PersistentState("index", "resources")] IPersistentState<IndexState> state,
    IndexServices services)
    : ResourceIndexGrain<Deployment>(state, services);

[GrainType("event-index")]
public sealed class EventIndexGrain(
    [PersistentState("index", "resources")] IPersistentState<IndexState> state,
    IndexServices services)
    : ResourceIndexGrain<Event>(state, services)
{
    private readonly TimeSpan _ttl = services.Options.Value.EventTtl;
    private readonly TimeProvider _clock = services.Time;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await base.OnActivateAsync(cancellationToken);
        // Kubernetes' --event-ttl: events are history, not state; sweep old ones away.
        var period = TimeSpan.FromTicks(Math.Clamp(_ttl.Ticks / 10, TimeSpan.FromSeconds(1).Ticks, TimeSpan.FromMinutes(5).Ticks));
        this.RegisterGrainTimer(SweepAsync, new GrainTimerCreationOptions(period, period) { Interleave = false, KeepAlive = true });
    }

    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        var cutoff = _clock.GetUtcNow() - _ttl;
        var all = await ListAsync(GrainInterfaces.ResourceQuery.All);
        foreach (var ev in all.Items.Where(e => (e.LastTimestamp ?? e.Metadata.CreationTimestamp) < cutoff))
        {
            GrainFactory.GetGrain<GrainInterfaces.IEventGrain>(ev.Key()).DeleteAsync(DeleteOptions.Default).Ignore();
        }
    }
}
