using Microsoft.Extensions.Options;

namespace Orchestrator.Grains.Storage.Postgres;

/// <summary>
/// Applies the PostgreSQL migrations while the silo starts, before anything reads the schema: the
/// ADO.NET grain storage loads its queries at <see cref="ServiceLifecycleStage.ApplicationServices"/>
/// and the reminder table at <see cref="ServiceLifecycleStage.RuntimeGrainServices"/>, both later
/// than <see cref="ServiceLifecycleStage.RuntimeStorageServices"/>.
/// </summary>
internal sealed class PostgresMigrationStartup(PostgresMigrator migrator, IOptions<PostgresStorageOptions> options) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) => lifecycle.Subscribe(
        nameof(PostgresMigrationStartup),
        ServiceLifecycleStage.RuntimeStorageServices,
        ct => migrator.MigrateWhenReachableAsync(options.Value.StartTimeout, ct));
}
