using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Resources;
using Orchestrator.Model;

namespace Orchestrator.Grains.Events;

[GrainType("event")]
public sealed class EventGrain(
    GrainServices services)
    : ResourceGrain<Event>(services), IEventGrain
{
    public async Task RecordAsync(Event ev)
    {
        try
        {
            if (Current is not { } existing)
            {
                await CreateAsync(ev);
                return;
            }
            await WriteObjectAsync(existing with
            {
                Count = (existing.Count ?? 1) + 1,
                LastTimestamp = ev.LastTimestamp ?? Now,
                Message = ev.Message,
            });
        }
        catch (ApiException)
        {
            // Events are best effort (Kubernetes drops them too): the namespace may be going away.
        }
    }
}
