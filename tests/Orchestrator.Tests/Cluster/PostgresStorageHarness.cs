using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orchestrator.Grains.Persistence;
using Orchestrator.Grains.Storage;
using Orchestrator.Grains.Storage.Postgres;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;

namespace Orchestrator.Tests.Cluster;

/// <summary>
/// The cluster profile's storage registered exactly as a silo registers it
/// (<see cref="PostgresStorageHostingExtensions"/>), against a fresh database, without a silo:
/// a stand-in lifecycle starts the providers.
/// </summary>
internal sealed class PostgresStorageHarness : IAsyncDisposable
{
    public const string ServiceId = "storage-tests";

    private readonly ServiceProvider _services;

    private PostgresStorageHarness(ServiceProvider services, string connectionString)
    {
        _services = services;
        ConnectionString = connectionString;
    }

    public string ConnectionString { get; }

    public IGrainStorage Storage => _services.GetRequiredKeyedService<IGrainStorage>("resources");

    public IReminderTable Reminders => _services.GetRequiredService<IReminderTable>();

    public PostgresMigrator Migrator => _services.GetRequiredService<PostgresMigrator>();

    public static async Task<PostgresStorageHarness> StartAsync(ClusterStoresFixture stores)
    {
        var connectionString = await stores.Postgres.CreateDatabaseAsync($"s{Guid.NewGuid():N}"[..16]);
        var services = new ServiceCollection();
        services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        services.AddSerializer();
        services.AddSingleton(TimeProvider.System);
        services.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = ServiceId;
            o.ServiceId = ServiceId;
        });
        services.AddSingleton<IGrainStorageSerializer, ResourceJsonGrainStorageSerializer>();
        services.AddPostgresGrainStorage("resources", o => o.ConnectionString = connectionString);
        services.UsePostgresReminderService(o => o.ConnectionString = connectionString);
        var provider = services.BuildServiceProvider();
        var harness = new PostgresStorageHarness(provider, connectionString);
        await harness.StartLifecycleAsync();
        return harness;
    }

    /// <summary>Runs what a silo runs at start for these services: the migration, then the
    /// providers' own initialization (the ADO.NET storage loads its queries). The reminder
    /// service's other participants need a whole silo, so only these are started.</summary>
    private async Task StartLifecycleAsync()
    {
        await Migrator.MigrateWhenReachableAsync(TimeSpan.FromSeconds(30));
        var lifecycle = new StandInLifecycle();
        ((ILifecycleParticipant<ISiloLifecycle>)Storage).Participate(lifecycle);
        await lifecycle.StartAsync();
        await Reminders.StartAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>Runs subscribed observers in stage order, as the silo's lifecycle does.</summary>
    private sealed class StandInLifecycle : ISiloLifecycle
    {
        private readonly List<(int Stage, ILifecycleObserver Observer)> _observers = [];

        public int HighestCompletedStage { get; private set; } = int.MinValue;

        public int LowestStoppedStage => int.MaxValue;

        public IDisposable Subscribe(string observerName, int stage, ILifecycleObserver observer)
        {
            _observers.Add((stage, observer));
            return new Unsubscriber();
        }

        public async Task StartAsync()
        {
            foreach (var (stage, observer) in _observers.OrderBy(o => o.Stage))
            {
                await observer.OnStart(CancellationToken.None);
                HighestCompletedStage = stage;
            }
        }

        private sealed class Unsubscriber : IDisposable
        {
            public void Dispose()
            {
            }
        }
    }
}
