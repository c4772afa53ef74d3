using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;
using Xunit.Abstractions;

namespace Orchestrator.Tests.Cluster;

/// <summary>
/// Redis and PostgreSQL for the cluster tests, started once for the collection in a temporary
/// directory and stopped (by PID) and deleted at the end. Each test gets a database and a
/// cluster id of its own (<see cref="StartClusterAsync"/>).
/// </summary>
public sealed class ClusterStoresFixture : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("orch-cluster");

    public RedisServer Redis { get; private set; } = null!;

    public PostgresServer Postgres { get; private set; } = null!;

    public string Directory => _directory.Path;

    public async Task InitializeAsync()
    {
        // Both stores are needed by every test; starting them together saves a second or two.
        var redis = RedisServer.StartAsync(_directory.Path);
        var postgres = PostgresServer.StartAsync(_directory.Path);
        Redis = await redis;
        Postgres = await postgres;
    }

    /// <summary>Starts a cluster of <paramref name="silos"/> silos and waits until all serve the API.</summary>
    public async Task<LocalCluster> StartClusterAsync(int silos, ITestOutputHelper output, IEnumerable<string>? extraSettings = null)
    {
        var cluster = await LocalCluster.StartAsync(Redis, Postgres, _directory.Path, silos, extraSettings);
        try
        {
            await cluster.WaitReadyAsync();
        }
        catch
        {
            output.WriteLine(cluster.Logs(80));
            await cluster.DisposeAsync();
            throw;
        }
        output.WriteLine($"cluster {cluster.Name}: {string.Join(", ", cluster.Silos)}");
        return cluster;
    }

    public async Task DisposeAsync()
    {
        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
        if (Postgres is not null)
        {
            await Postgres.DisposeAsync();
        }
        // ORCH_KEEP_CLUSTER_LOGS=1 keeps the directory (silo, Redis and PostgreSQL logs) for a look
        // after a failure.
        if (Environment.GetEnvironmentVariable("ORCH_KEEP_CLUSTER_LOGS") != "1")
        {
            _directory.Dispose();
        }
    }
}

/// <summary>
/// The cluster tests: real silo processes, Redis and PostgreSQL. Not run in parallel with other
/// collections, because failure detection with one-second probes must not compete with other
/// tests for this machine's two cores.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection : ICollectionFixture<ClusterStoresFixture>
{
    public const string Name = "cluster";
}
