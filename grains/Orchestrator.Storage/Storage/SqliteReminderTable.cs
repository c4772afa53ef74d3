using System.Data;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Orchestrator.Grains.Storage;

/// <summary>Orleans reminder table in the embedded profile's SQLite database.</summary>
public sealed partial class SqliteReminderTable : IReminderTable
{
    private const string Columns = "grain_id, reminder_name, start_at, period, etag";

    private const string SelectByGrainSql = $"SELECT {Columns} FROM reminders WHERE grain_id = $grainId;";

    private const string SelectRowSql = $"SELECT {Columns} FROM reminders WHERE grain_id = $grainId AND reminder_name = $name;";

    // Orleans' ring ranges are (begin, end]; when begin >= end the range wraps past uint.MaxValue
    // (and begin == end is the whole ring).
    private const string SelectRangeSql = $"SELECT {Columns} FROM reminders WHERE grain_hash > $begin AND grain_hash <= $end;";

    private const string SelectWrappedRangeSql = $"SELECT {Columns} FROM reminders WHERE grain_hash > $begin OR grain_hash <= $end;";

    private const string UpsertSql =
        "INSERT INTO reminders (grain_id, reminder_name, grain_hash, start_at, period, etag) "
        + "VALUES ($grainId, $name, $hash, $startAt, $period, $etag) "
        + "ON CONFLICT (grain_id, reminder_name) DO UPDATE SET "
        + "grain_hash = excluded.grain_hash, start_at = excluded.start_at, period = excluded.period, etag = excluded.etag;";

    private const string DeleteSql = "DELETE FROM reminders WHERE grain_id = $grainId AND reminder_name = $name AND etag = $etag;";

    private readonly SqliteDatabase _database;
    private readonly ILogger<SqliteReminderTable> _logger;

    /// <summary>Creates the table over the shared database.</summary>
    public SqliteReminderTable(SqliteDatabase database, ILogger<SqliteReminderTable> logger)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(logger);
        _database = database;
        _logger = logger;
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        // The schema exists once SqliteDatabase has been constructed (it was, to construct this).
        LogStarted(_logger, _database.DatabasePath);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<ReminderTableData> ReadRows(GrainId grainId) => ReadRows(grainId, CancellationToken.None);

    /// <inheritdoc />
    public async Task<ReminderTableData> ReadRows(GrainId grainId, CancellationToken cancellationToken)
    {
        var entries = await QueryAsync(
            SelectByGrainSql,
            command => command.Parameters.AddWithValue("$grainId", grainId.ToString()),
            cancellationToken).ConfigureAwait(false);
        return new ReminderTableData(entries);
    }

    /// <inheritdoc />
    public Task<ReminderTableData> ReadRows(uint begin, uint end) => ReadRows(begin, end, CancellationToken.None);

    /// <inheritdoc />
    public async Task<ReminderTableData> ReadRows(uint begin, uint end, CancellationToken cancellationToken)
    {
        var entries = await QueryAsync(
            begin < end ? SelectRangeSql : SelectWrappedRangeSql,
            command =>
            {
                command.Parameters.AddWithValue("$begin", (long)begin);
                command.Parameters.AddWithValue("$end", (long)end);
            },
            cancellationToken).ConfigureAwait(false);
        return new ReminderTableData(entries);
    }

    /// <inheritdoc />
    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) => ReadRow(grainId, reminderName, CancellationToken.None);

    /// <inheritdoc />
    public async Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reminderName);
        var entries = await QueryAsync(
            SelectRowSql,
            command =>
            {
                command.Parameters.AddWithValue("$grainId", grainId.ToString());
                command.Parameters.AddWithValue("$name", reminderName);
            },
            cancellationToken).ConfigureAwait(false);
        return entries.Count == 0 ? null : entries[0];
    }

    /// <inheritdoc />
    public Task<string?> UpsertRow(ReminderEntry entry) => UpsertRow(entry, CancellationToken.None);

    /// <inheritdoc />
    public async Task<string?> UpsertRow(ReminderEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(entry.ReminderName);
        var grainId = entry.GrainId.ToString();
        var hash = (long)entry.GrainId.GetUniformHashCode();
        var startAt = ToUniversalTicks(entry.StartAt);
        var period = entry.Period.Ticks;
        var name = entry.ReminderName;

        var eTag = await _database.WriteAsync(
            context =>
            {
                var newETag = context.NextVersion().ToString(CultureInfo.InvariantCulture);
                var command = context.Command(UpsertSql);
                command.Parameters.AddWithValue("$grainId", grainId);
                command.Parameters.AddWithValue("$name", name);
                command.Parameters.AddWithValue("$hash", hash);
                command.Parameters.AddWithValue("$startAt", startAt);
                command.Parameters.AddWithValue("$period", period);
                command.Parameters.AddWithValue("$etag", newETag);
                command.ExecuteNonQuery();
                return newETag;
            },
            cancellationToken).ConfigureAwait(false);

        LogUpserted(_logger, entry.GrainId, name, eTag);
        return eTag;
    }

    /// <inheritdoc />
    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) => RemoveRow(grainId, reminderName, eTag, CancellationToken.None);

    /// <inheritdoc />
    public async Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reminderName);
        var id = grainId.ToString();
        var removed = await _database.WriteAsync(
            context =>
            {
                var command = context.Command(DeleteSql);
                command.Parameters.AddWithValue("$grainId", id);
                command.Parameters.AddWithValue("$name", reminderName);
                command.Parameters.AddWithValue("$etag", (object?)eTag ?? DBNull.Value);
                return command.ExecuteNonQuery() > 0;
            },
            cancellationToken).ConfigureAwait(false);

        LogRemoved(_logger, grainId, reminderName, eTag, removed);
        return removed;
    }

    /// <inheritdoc />
    public Task TestOnlyClearTable() => TestOnlyClearTable(CancellationToken.None);

    /// <inheritdoc />
    public Task TestOnlyClearTable(CancellationToken cancellationToken)
        => _database.WriteAsync(context => context.Command("DELETE FROM reminders;").ExecuteNonQuery(), cancellationToken);

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    private async Task<List<ReminderEntry>> QueryAsync(string sql, Action<SqliteCommand> bind, CancellationToken cancellationToken)
    {
        var entries = new List<ReminderEntry>();
        var connection = await _database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            bind(command);
            var reader = await command.ExecuteReaderAsync(CommandBehavior.Default, cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    entries.Add(new ReminderEntry
                    {
                        GrainId = GrainId.Parse(reader.GetString(0), CultureInfo.InvariantCulture),
                        ReminderName = reader.GetString(1),
                        StartAt = new DateTime(reader.GetInt64(2), DateTimeKind.Utc),
                        Period = TimeSpan.FromTicks(reader.GetInt64(3)),
                        ETag = reader.GetString(4),
                    });
                }
            }
        }

        return entries;
    }

    // Orleans computes StartAt from DateTime.UtcNow; a Local one is converted, and an Unspecified
    // one is taken as UTC rather than shifted by this machine's time zone.
    private static long ToUniversalTicks(DateTime value)
        => value.Kind == DateTimeKind.Local ? value.ToUniversalTime().Ticks : value.Ticks;
}
