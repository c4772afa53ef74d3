using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Orchestrator.Grains.Resources;

/// <summary>What every resource grain needs from the silo, in one constructor argument.</summary>
public sealed class GrainServices(
    ILoggerFactory loggerFactory,
    IOptions<ControlPlaneOptions> options,
    TimeProvider time,
    GarbageCollector garbageCollector,
    EventRecorder events,
    Store.IObjectStore store,
    Index.ResourceCaches caches)
{
    public ILoggerFactory LoggerFactory { get; } = loggerFactory;

    public IOptions<ControlPlaneOptions> Options { get; } = options;

    public TimeProvider Time { get; } = time;

    public GarbageCollector GarbageCollector { get; } = garbageCollector;

    public EventRecorder Events { get; } = events;

    /// <summary>Where objects are stored, with their change feed.</summary>
    public Store.IObjectStore Store { get; } = store;

    /// <summary>This silo's list-and-watch caches: reads of other objects come from here.</summary>
    public Index.ResourceCaches Caches { get; } = caches;
}
