using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestrator.Grains.Store;
using Orchestrator.Model;

namespace Orchestrator.Grains.Index;

/// <summary>This silo's caches, one per kind, built on first use.</summary>
public sealed class ResourceCaches(IObjectStore store, IOptions<ControlPlaneOptions> options, TimeProvider time, ILoggerFactory loggerFactory)
{
    private readonly ConcurrentDictionary<Type, IResourceCache> _caches = new();

    public ResourceCache<T> Of<T>() where T : class, IResource<T> =>
        (ResourceCache<T>)_caches.GetOrAdd(typeof(T), _ => Create<T>());

    private ResourceCache<T> Create<T>() where T : class, IResource<T>
    {
        var index = Kinds.KindRegistry.Of<T>().Index;
        return new ResourceCache<T>(store, options.Value.WatchLogCapacity, time, loggerFactory.CreateLogger<ResourceCache<T>>(), index?.KeysOf, index?.KeyForField);
    }
}
