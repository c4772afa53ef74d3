using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;
using Xunit.Abstractions;
using static Orchestrator.Tests.Cluster.ClusterTestSupport;

namespace Orchestrator.Tests.Cluster;

/// <summary>
/// Redis and then PostgreSQL restart while two silos take writes. Redis holds only membership, so
/// requests go on; while PostgreSQL is down, requests fail with a 503 Status that says the store
/// is unavailable (never a 500, never a hang), and succeed again once it is back. Nothing that
/// was accepted is lost.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class StoreRestartTests(ClusterStoresFixture stores, ITestOutputHelper output)
{
    [Fact]
    public async Task RestartingRedisAndPostgresUnderLoadFailsCleanlyAndLosesNothing()
    {
        var phases = new Phases(output);
        await using var cluster = await stores.StartClusterAsync(2, output);
        phases.Log("2 silos ready");
        await RunAsync(cluster, output, async () =>
        {
            using var stop = new CancellationTokenSource();
            var load = new WriteLoad(cluster.Silos, stop.Token);
            var writers = Enumerable.Range(0, cluster.Silos.Count).Select(load.RunAsync).ToList();

            await load.WaitForAcceptedAsync(20, "writes before the restarts");
            phases.Log($"{load.Accepted.Count} writes accepted");

            var logged = cluster.Silos.Select(s => s.Process.LogLength).ToList();
            await stores.Redis.StopAsync();
            phases.Log("Redis stopped");
            // Keep Redis down until a silo has failed to write its membership heartbeat (Orleans
            // logs it), and writes go on meanwhile: membership is all Redis holds.
            await Eventually.True(() => cluster.Silos.Select((s, i) => s.Process.LoggedSince(logged[i], "Failed to update table entry for this silo")).Any(b => b),
                "a silo to notice that Redis is down", Slow);
            await load.WaitForAcceptedAsync(20, "writes while Redis is down");
            await stores.Redis.StartAsync();
            phases.Log($"Redis started again; {load.Accepted.Count} writes accepted");
            await load.WaitForAcceptedAsync(10, "writes after Redis is back");
            // Membership survived the restart: a new client finds the gateways, and the silos read
            // both of themselves from the table once they have reconnected.
            var management = (await cluster.ClientAsync()).GetGrain<IManagementGrain>(0);
            await Eventually.True(async () => (await management.GetHosts(onlyActive: true)).Count == 2, "the membership table to list both silos", Slow);

            await stores.Postgres.StopAsync();
            phases.Log("PostgreSQL stopped");
            await Eventually.True(() => load.StoreUnavailable >= 10, "requests answered 503 while PostgreSQL is down", Slow);
            phases.Log($"{load.StoreUnavailable} requests answered 503 (store unavailable)");
            await stores.Postgres.StartAsync();
            phases.Log("PostgreSQL started again");
            await load.WaitForAcceptedAsync(20, "writes after PostgreSQL is back");
            phases.Log($"{load.Accepted.Count} writes accepted in all");

            await stop.CancelAsync();
            await Task.WhenAll(writers);
            Assert.True(load.Unexpected.IsEmpty, "answers other than 201 and a clean 503:\n" + string.Join("\n", load.Unexpected.Take(5)));
            Assert.All(cluster.Silos, s => Assert.False(s.Process.HasExited, $"{s} exited"));

            var namespaces = (await ListEventuallyAsync<Namespace>(Api(cluster.Silos[1]), "/api/v1/namespaces")).ToDictionary(n => n.Metadata.Name!);
            foreach (var (name, accepted) in load.Accepted)
            {
                Assert.True(namespaces.TryGetValue(name, out var now), $"namespace {name} was accepted and then lost");
                Assert.Equal(accepted.Metadata.Uid, now.Metadata.Uid);
                Assert.True(long.Parse(now.Metadata.ResourceVersion!) >= long.Parse(accepted.Metadata.ResourceVersion!));
            }
        });
    }

    /// <summary>One writer per silo creating namespaces; every answer is either accepted (201),
    /// a clean 503 Status, or recorded as unexpected.</summary>
    private sealed class WriteLoad(IReadOnlyList<SiloProcess> silos, CancellationToken stop)
    {
        private int _storeUnavailable;

        public ConcurrentDictionary<string, Namespace> Accepted { get; } = new();

        public ConcurrentQueue<string> Unexpected { get; } = new();

        public int StoreUnavailable => Volatile.Read(ref _storeUnavailable);

        public Task WaitForAcceptedAsync(int more, string what)
        {
            var target = Accepted.Count + more;
            return Eventually.True(() => Accepted.Count >= target, what, Slow);
        }

        public Task RunAsync(int writer) => Task.Run(async () =>
        {
            var api = Api(silos[writer]);
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var name = $"load-{writer}-{i}";
                using var response = await api.SendAsync(HttpMethod.Post, "/api/v1/namespaces",
                    ResourceJson.SerializeToString(new Namespace { Metadata = new ObjectMeta { Name = name } }));
                var text = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    Accepted[name] = JsonSerializer.Deserialize<Namespace>(text, ResourceJson.Lenient)!;
                    continue;
                }
                var status = response.Content.Headers.ContentType?.MediaType == "application/json"
                    ? JsonSerializer.Deserialize<ApiStatus>(text, ResourceJson.Lenient)
                    : null;
                if (response.StatusCode == HttpStatusCode.ServiceUnavailable && status?.Reason == StatusReason.ServiceUnavailable
                    && response.Headers.RetryAfter is not null)
                {
                    if (status.Message?.Contains("object store is unavailable", StringComparison.Ordinal) == true)
                    {
                        Interlocked.Increment(ref _storeUnavailable);
                    }
                    // A client backs off a little on 503 (it also says Retry-After) rather than
                    // hammering a control plane that waits for its store.
                    await Task.Delay(50, CancellationToken.None);
                    continue;
                }
                Unexpected.Enqueue($"{name}: {(int)response.StatusCode} {text}");
            }
        });
    }
}
