using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Index;
using Orchestrator.Model;
using Orchestrator.Selectors;

namespace Orchestrator.Grains.Security;

/// <summary>
/// The node graph from this silo's pod cache. A "no" is only answered after the cache has
/// caught up with the store: a pod bound a moment ago on another silo may not be in this
/// silo's cache yet, and its node (which learnt of it from a watch) must not be refused for
/// that. A "yes" from a cache that lags only ever concerns a binding that did exist.
/// </summary>
public sealed class CachedNodeGraph(ResourceCaches caches) : INodeGraph
{
    public async ValueTask<bool> IsPodBoundAsync(string node, string ns, string name, CancellationToken cancellationToken)
    {
        var pods = caches.Of<Pod>();
        var key = ResourceTypes.Pod.Key(ns, name);
        if ((await pods.GetAsync(key))?.Spec.NodeName == node)
        {
            return true;
        }
        await pods.SyncAsync();
        return (await pods.GetAsync(key))?.Spec.NodeName == node;
    }

    public async ValueTask<IReadOnlyList<Pod>> PodsOnNodeAsync(string node, CancellationToken cancellationToken)
    {
        // Consistent (not the cached "0"): the callers look for one pod among them and refuse if
        // it is absent.
        var query = new ResourceQuery { Fields = FieldSelector.Parse("spec.nodeName=" + node, ResourceTypes.Pod) };
        return (await caches.Of<Pod>().ListAsync(query, ListOptions.Default)).Items;
    }
}
