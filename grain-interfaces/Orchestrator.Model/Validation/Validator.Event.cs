using Orchestrator.Model;

namespace Orchestrator.Validation;

/// <summary>Validation of a Event.</summary>
public static partial class Validator
{
    public static void Event(Event ev, Event? old, FieldErrors e)
    {
        if (ev.InvolvedObject.Namespace is { Length: > 0 } ns && ns != ev.Metadata.Namespace)
        {
            e.Invalid("involvedObject.namespace", ns, "does not match event.namespace");
        }
        if (string.IsNullOrEmpty(ev.InvolvedObject.Name) && string.IsNullOrEmpty(ev.InvolvedObject.Kind))
        {
            e.Required("involvedObject");
        }
        if (ev.EventType is { } t && t is not (EventTypes.Normal or EventTypes.Warning))
        {
            e.NotSupported("type", t, [EventTypes.Normal, EventTypes.Warning]);
        }
        if (ev.Count is < 0)
        {
            e.Invalid("count", ev.Count, "must be greater than or equal to 0");
        }
    }
}
