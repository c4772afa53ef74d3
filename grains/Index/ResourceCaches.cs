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

    /// <summary>Builds every registered kind's cache (at silo start, so that each cache's log, and
    /// with it the versions this silo can page and watch from, starts then).</summary>
    public Task LoadAllAsync() => Task.WhenAll(Kinds.KindRegistry.All.Select(k => k.Accept(new Loader(this))));

    private sealed class Loader(ResourceCaches caches) : Kinds.IKindVisitor<Task>
    {
        public Task Visit<T>(Kinds.Kind<T> kind) where T : class, IResource<T> => caches.Of<T>().LoadAsync();
    }

    private ResourceCache<T> Create<T>() where T : class, IResource<T>
    {
        var index = Kinds.KindRegistry.Of<T>().Index;
        return new ResourceCache<T>(store, options.Value.WatchLogCapacity, time, loggerFactory.CreateLogger<ResourceCache<T>>(), index?.KeysOf, index?.KeyForField);
    }
}
