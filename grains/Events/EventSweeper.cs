using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Index;
using Orchestrator.Model;

namespace Orchestrator.Grains.Events;

/// <summary>
/// Kubernetes' --event-ttl: events are history, not state. Every silo sweeps the events older
/// than the TTL out of its cache; deleting one that another silo deleted first is a harmless 404.
/// </summary>
public sealed class EventSweeper(ResourceCaches caches, IGrainFactory grains, IOptions<ControlPlaneOptions> options, TimeProvider time) : BackgroundService
{
    private PeriodicTimer? _timer;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // The period counts from the start of the service, not from the first turn of
        // ExecuteAsync, which .NET 10 runs on the thread pool after StartAsync returns: a test
        // that moves a fake clock right after starting the sweeper finds the timer there.
        // It looks every tenth of the TTL, between once a second and once every 5 minutes.
        var ttl = options.Value.EventTtl;
        _timer = new PeriodicTimer(TimeSpan.FromTicks(Math.Clamp(ttl.Ticks / 10, TimeSpan.FromSeconds(1).Ticks, TimeSpan.FromMinutes(5).Ticks)), time);
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var ttl = options.Value.EventTtl;
        using var timer = _timer ?? throw new InvalidOperationException("the sweeper was not started");
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var cutoff = time.GetUtcNow() - ttl;
                var all = await caches.Of<Event>().ListAsync(ResourceQuery.All, new ListOptions { ResourceVersion = "0" });
                foreach (var ev in all.Items.Where(e => (e.LastTimestamp ?? e.Metadata.CreationTimestamp) < cutoff))
                {
                    grains.GetGrain<IEventGrain>(ev.Key()).DeleteAsync(DeleteOptions.Default).Ignore();
                }
            }
            catch (Exception) when (!stoppingToken.IsCancellationRequested)
            {
                // The next tick tries again.
            }
        }
    }
}
