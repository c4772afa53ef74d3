using System.Threading.Channels;
using Orchestrator.Client;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;
using Xunit.Abstractions;
using static Orchestrator.Tests.Cluster.ClusterTestSupport;

namespace Orchestrator.Tests.Cluster;

/// <summary>
/// The client's watch across a kill -9 of the silo serving it (cluster profile, silo processes
/// on Redis and PostgreSQL): it resumes on the surviving silo from the last resourceVersion it
/// delivered, and misses and repeats nothing.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClientWatchFailoverTests(ClusterStoresFixture stores, ITestOutputHelper output)
{
    [Fact]
    public async Task AClientWatchResumesOnTheSurvivingSiloWithoutMissingOrRepeatingAChange()
    {
        var phases = new Phases(output);
        // One silo first, so the watch is certainly served by the silo that is killed.
        await using var cluster = await stores.StartClusterAsync(1, output);
        var a = cluster.Silos[0];
        await RunAsync(cluster, output, async () =>
        {
            var client = new OrchestratorClient(await cluster.ClientAsync(), TimeProvider.System);
            var ns = (await client.Namespaces().CreateAsync(new Namespace { Metadata = new ObjectMeta { GenerateName = "watch-" } })).Metadata.Name!;
            var endpoints = client.Endpoints(ns);
            endpoints.WatchPollWait = TimeSpan.FromSeconds(2);
            var start = await endpoints.ListAsync();
            using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            var events = Channel.CreateUnbounded<WatchEvent<Endpoints>>();
            var follower = Task.Run(async () =>
            {
                await foreach (var ev in endpoints.WatchAsync(resourceVersion: start.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken: stop.Token))
                {
                    await events.Writer.WriteAsync(ev);
                }
            });

            var created = new List<string>();
            for (var i = 0; i < 10; i++)
            {
                created.Add(await CreateOnceAsync(endpoints, $"before-{i}"));
            }
            var seen = await ReadAsync(events.Reader, 10);
            phases.Log($"the watch through A delivered the first {seen.Count} creates");

            var b = cluster.StartSilo();
            await cluster.WaitReadyAsync();
            await cluster.KillAsync(a);
            phases.Log($"killed A; B = {b}");

            for (var i = 0; i < 10; i++)
            {
                created.Add(await CreateOnceAsync(endpoints, $"after-{i}"));
            }
            seen.AddRange(await ReadAsync(events.Reader, 10));
            phases.Log("the watch delivered the creates after the kill");

            Assert.All(seen, e => Assert.Equal(WatchEventType.Added, e.Type));
            Assert.Equal(created, seen.Select(e => e.Object.Metadata.ResourceVersion!));
            Assert.False(follower.IsFaulted, follower.Exception?.ToString());
            await stop.CancelAsync();
        });
    }

    /// <summary>Creates the object exactly once and returns its resourceVersion: a create that
    /// failed while the cluster settled is tried again, and one that had been applied before its
    /// answer was lost shows up as AlreadyExists, after which the stored object says its version.</summary>
    private static async Task<string> CreateOnceAsync(Orchestrator.Client.Resources.ResourceClient<Endpoints> endpoints, string name)
    {
        var deadline = DateTime.UtcNow + Slow;
        while (true)
        {
            try
            {
                return (await endpoints.CreateAsync(new Endpoints { Metadata = new ObjectMeta { Name = name } })).Metadata.ResourceVersion!;
            }
            catch (ApiException ex) when (ex.Code == 409)
            {
                return (await endpoints.GetAsync(name)).Metadata.ResourceVersion!;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    private static async Task<List<WatchEvent<Endpoints>>> ReadAsync(ChannelReader<WatchEvent<Endpoints>> reader, int count)
    {
        using var deadline = new CancellationTokenSource(Slow);
        var events = new List<WatchEvent<Endpoints>>();
        try
        {
            while (events.Count < count)
            {
                events.Add(await reader.ReadAsync(deadline.Token));
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the watch delivered {events.Count} of {count} changes within {Slow.TotalSeconds:0} s");
        }
        return events;
    }
}
