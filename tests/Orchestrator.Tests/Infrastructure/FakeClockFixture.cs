using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Orchestrator.Grains;
using Orchestrator.Grains.Index;
using Orchestrator.Grains.Resources;
using Orchestrator.Grains.Store;

namespace Orchestrator.Tests.Infrastructure;

/// <summary>
/// A control plane whose controllers read the time from a <see cref="FakeTimeProvider"/> that
/// moves only when a test moves it: what a node's lease, a toleration, a progress deadline or
/// an event's TTL decide is then a matter of the test's clock, not of how fast the machine is.
/// </summary>
/// <remarks>
/// Only the controllers' clock (<see cref="GrainServices.Time"/> and the event recorder's) is
/// fake; Orleans keeps the real one (its membership, messaging and grain timers would stop on a
/// frozen clock). A controller asks for its next pass by a delay that a real grain timer waits
/// out, so a test that moves the clock pokes the controller (<see cref="IReconciler.PokeAsync"/>)
/// for a pass now, as a change to its object would. Passes that come on their own find the fake
/// clock where the test left it and decide the same.
/// </remarks>
public sealed class FakeClockFixture : IAsyncLifetime
{
    /// <summary>Long enough that nothing expires unless a test moves the clock by that much.</summary>
    public static readonly TimeSpan NodeLease = TimeSpan.FromSeconds(40);

    public static readonly TimeSpan DefaultToleration = TimeSpan.FromSeconds(20);

    public FakeClockFixture()
    {
        // Whole seconds, so that timestamps compare exactly whatever precision they are stored in;
        // not before the real time, which the silo's own event sweeper uses.
        var now = DateTimeOffset.UtcNow;
        Clock = new FakeTimeProvider(new DateTimeOffset(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero));
        ControlPlane = new ControlPlaneFixture(
        [
            $"--Orchestrator:NodeLeaseDuration={NodeLease.ToString("c", CultureInfo.InvariantCulture)}",
            $"--Orchestrator:DefaultTolerationSeconds={DefaultToleration.ToString("c", CultureInfo.InvariantCulture)}",
        ], services =>
        {
            services.AddSingleton(sp => new EventRecorder(sp.GetRequiredService<IGrainFactory>(), Clock));
            services.AddSingleton(sp => new GrainServices(
                sp.GetRequiredService<ILoggerFactory>(),
                sp.GetRequiredService<IOptions<ControlPlaneOptions>>(),
                Clock,
                sp.GetRequiredService<GarbageCollector>(),
                sp.GetRequiredService<EventRecorder>(),
                sp.GetRequiredService<IObjectStore>(),
                sp.GetRequiredService<ResourceCaches>()));
        });
    }

    public FakeTimeProvider Clock { get; }

    public ControlPlaneFixture ControlPlane { get; }

    public ApiClient Api => ControlPlane.Api;

    public IGrainFactory Grains => ControlPlane.Grains;

    public Task InitializeAsync() => ControlPlane.InitializeAsync();

    public Task DisposeAsync() => ControlPlane.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class FakeClockCollection : ICollectionFixture<FakeClockFixture>
{
    public const string Name = "fake clock";
}
