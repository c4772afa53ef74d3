using Npgsql;
using Orleans.Runtime;

namespace Orchestrator.Grains.Storage.Postgres;

/// <summary>
/// The cluster profile's reminder table: Orleans' ADO.NET reminder table over our schema, with
/// database failures turned into <see cref="Orchestrator.Model.StoreException"/> (grains register
/// reminders while handling calls, so these failures can travel back to callers) and one retry
/// after a connection closed by a PostgreSQL restart (<see cref="PostgresFailures"/>).
/// </summary>
public sealed class PostgresReminderTable(IReminderTable adoNet, NpgsqlDataSource dataSource) : IReminderTable
{
    public Task StartAsync(CancellationToken cancellationToken = default) =>
        PostgresFailures.RunAsync(dataSource, () => adoNet.StartAsync(cancellationToken));

    public Task StopAsync(CancellationToken cancellationToken = default) => adoNet.StopAsync(cancellationToken);

    public Task<ReminderTableData> ReadRows(GrainId grainId) =>
        PostgresFailures.RunAsync(dataSource, () => adoNet.ReadRows(grainId));

    public Task<ReminderTableData> ReadRows(uint begin, uint end) =>
        PostgresFailures.RunAsync(dataSource, () => adoNet.ReadRows(begin, end));

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) =>
        PostgresFailures.RunAsync(dataSource, () => adoNet.ReadRow(grainId, reminderName));

    public Task<string?> UpsertRow(ReminderEntry entry) =>
        PostgresFailures.RunAsync(dataSource, () => adoNet.UpsertRow(entry));

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) =>
        PostgresFailures.RunAsync(dataSource, () => adoNet.RemoveRow(grainId, reminderName, eTag));

    public Task TestOnlyClearTable() => PostgresFailures.RunAsync(dataSource, adoNet.TestOnlyClearTable);
}
