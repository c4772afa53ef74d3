using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orleans.Concurrency;

namespace Orchestrator.Grains.Index;

/// <summary>
/// Lists and watches for callers outside the silo (node agents, .NET clients): a stateless
/// worker, so each call is answered on the silo it reaches (a client's gateway) from that
/// silo's cache. No activation is a bottleneck and none holds state a crash could lose.
/// </summary>
[StatelessWorker, Reentrant]
public sealed class ResourceIndexGrain<T>(ResourceCaches caches) : Grain, IResourceIndexGrain<T> where T : class, IResource<T>
{
    private ResourceCache<T> Cache => caches.Of<T>();

    public Task<ResourceList<T>> ListAsync(ResourceQuery query, ListOptions options) => Cache.ListAsync(query, options);

    public Task<WatchBatch<T>> WatchAsync(ResourceQuery query, long fromVersion, TimeSpan maxWait) => Cache.WatchAsync(query, fromVersion, maxWait);

    public Task<T?> GetAsync(string key) => Cache.GetAsync(key);
}
