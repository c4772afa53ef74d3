using System.Globalization;
using System.Text;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.Grains;

/// <summary>
/// Records core/v1 Events about objects, as Kubernetes' controllers do. Repeats of the same
/// reason and message for the same object are aggregated into one Event with a count
/// (Kubernetes' EventCorrelator), so a retrying controller does not flood the store.
/// </summary>
public sealed class EventRecorder(IGrainFactory grains, TimeProvider time)
{
    public Task NormalAsync<T>(T involved, string reason, string message, string component) where T : class, IResource<T> =>
        RecordAsync(involved, EventTypes.Normal, reason, message, component);

    public Task WarningAsync<T>(T involved, string reason, string message, string component) where T : class, IResource<T> =>
        RecordAsync(involved, EventTypes.Warning, reason, message, component);

    public Task RecordAsync<T>(T involved, string type, string reason, string message, string component) where T : class, IResource<T>
    {
        // Events about cluster-scoped objects (nodes) live in the default namespace, as in Kubernetes.
        var ns = involved.Metadata.Namespace ?? WellKnown.DefaultNamespace;
        var name = $"{involved.Metadata.Name}.{Fingerprint(involved.Metadata.Uid, reason, message)}";
        var now = time.GetUtcNow();
        var ev = new Event
        {
            Metadata = new ObjectMeta { Name = name, Namespace = ns },
            InvolvedObject = involved.Reference() with { Namespace = involved.Metadata.Namespace },
            Reason = reason,
            Message = message.Length > 1024 ? message[..1024] : message,
            Source = new EventSource { Component = component },
            ReportingComponent = component,
            FirstTimestamp = now,
            LastTimestamp = now,
            Count = 1,
            EventType = type,
        };
        return grains.GetGrain<IEventGrain>(ResourceTypes.Event.Key(ns, name)).RecordAsync(ev);
    }

    private static string Fingerprint(string? uid, string reason, string message)
    {
        var hash = Fnv.Hash32(Encoding.UTF8.GetBytes($"{uid}\n{reason}\n{message}"));
        return hash.ToString("x8", CultureInfo.InvariantCulture);
    }
}
