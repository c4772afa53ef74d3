using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Storage;

namespace Orchestrator.Grains.Store;

/// <summary>
/// The embedded profile's object store, in the shared SQLite database. Writes run on its single
/// writer thread (group commit), which makes the per-kind counters trivially ordered; this
/// process is the only writer, so it also knows each kind's committed version without asking.
/// </summary>
public sealed partial class SqliteObjectStore : IObjectStore, IAsyncDisposable
{
    private readonly SqliteDatabase _database;
    private readonly ILogger<SqliteObjectStore> _logger;
    private readonly long _retain;
    private readonly long _compactEvery;
    private readonly ConcurrentDictionary<string, long> _committed = new(StringComparer.Ordinal);
    private readonly Channel<CommitNotice> _notices = Channel.CreateUnbounded<CommitNotice>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _dispatcher;

    public SqliteObjectStore(SqliteDatabase database, IOptions<ControlPlaneOptions> options, ILogger<SqliteObjectStore> logger)
    {
        _database = database;
        _logger = logger;
        _retain = options.Value.WatchLogCapacity;
        _compactEvery = Math.Max(1, _retain / 10);
        _dispatcher = Task.Run(DispatchAsync);
    }

    public event Action<CommitNotice>? Committed;

    public Task<long> PutAsync(string kind, string key, long expected, WatchEventType type, byte[] payload, object? value) =>
        _database.WriteAsync(context =>
        {
            // The version first: if the object's check fails below, the write's savepoint is
            // rolled back with the counter, so no version is lost.
            var version = NextVersion(context, kind);
            var write = context.Command(expected == 0
                ? "INSERT INTO objects (kind, key, version, payload) VALUES ($kind, $key, $version, $payload) ON CONFLICT (kind, key) DO NOTHING;"
                : "UPDATE objects SET version = $version, payload = $payload WHERE kind = $kind AND key = $key AND version = $expected;");
            write.Parameters.AddWithValue("$kind", kind);
            write.Parameters.AddWithValue("$key", key);
            write.Parameters.AddWithValue("$version", version);
            write.Parameters.AddWithValue("$payload", payload);
            if (expected != 0)
            {
                write.Parameters.AddWithValue("$expected", expected);
            }
            if (write.ExecuteNonQuery() == 0)
            {
                throw new StoreConflictException(kind, key, expected, StoredVersion(context, kind, key));
            }
            return Append(context, kind, new StoredChange(version, type, key, payload) { Value = value });
        });

    public Task<long> RemoveAsync(string kind, string key, long expected, byte[] lastPayload, object? value) =>
        _database.WriteAsync(context =>
        {
            var version = NextVersion(context, kind);
            var delete = context.Command("DELETE FROM objects WHERE kind = $kind AND key = $key AND version = $expected;");
            delete.Parameters.AddWithValue("$kind", kind);
            delete.Parameters.AddWithValue("$key", key);
            delete.Parameters.AddWithValue("$expected", expected);
            if (delete.ExecuteNonQuery() == 0)
            {
                throw new StoreConflictException(kind, key, expected, StoredVersion(context, kind, key));
            }
            return Append(context, kind, new StoredChange(version, WatchEventType.Deleted, key, lastPayload) { Value = value });
        });

    public async Task<StoredObject?> GetAsync(string kind, string key)
    {
        await using var connection = await _database.OpenReadConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT version, payload FROM objects WHERE kind = $kind AND key = $key;";
        command.Parameters.AddWithValue("$kind", kind);
        command.Parameters.AddWithValue("$key", key);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? new StoredObject(key, reader.GetInt64(0), (byte[])reader.GetValue(1)) : null;
    }

    public async Task<StoredList> ListAsync(string kind)
    {
        await using var connection = await _database.OpenReadConnectionAsync();
        // One read transaction: the version and the rows come from the same snapshot.
        await using var transaction = connection.BeginTransaction(deferred: true);
        var version = await KindVersionAsync(connection, kind);
        var items = new List<StoredObject>();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT key, version, payload FROM objects WHERE kind = $kind;";
            command.Parameters.AddWithValue("$kind", kind);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                items.Add(new StoredObject(reader.GetString(0), reader.GetInt64(1), (byte[])reader.GetValue(2)));
            }
        }
        transaction.Commit();
        return new StoredList(items, version.Version);
    }

    public async Task<long> CurrentVersionAsync(string kind)
    {
        if (_committed.TryGetValue(kind, out var version))
        {
            return version;
        }
        await using var connection = await _database.OpenReadConnectionAsync();
        var stored = (await KindVersionAsync(connection, kind)).Version;
        // A commit may have raced the read: keep the larger.
        return _committed.AddOrUpdate(kind, stored, (_, known) => Math.Max(known, stored));
    }

    public async Task<IReadOnlyList<StoredChange>?> ChangesAsync(string kind, long after, int max)
    {
        await using var connection = await _database.OpenReadConnectionAsync();
        await using var transaction = connection.BeginTransaction(deferred: true);
        var (_, compacted) = await KindVersionAsync(connection, kind);
        if (after < compacted)
        {
            return null;
        }
        var changes = new List<StoredChange>();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT version, type, key, payload FROM changes WHERE kind = $kind AND version > $after ORDER BY version LIMIT $max;";
            command.Parameters.AddWithValue("$kind", kind);
            command.Parameters.AddWithValue("$after", after);
            command.Parameters.AddWithValue("$max", max);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                changes.Add(new StoredChange(reader.GetInt64(0), (WatchEventType)reader.GetInt32(1), reader.GetString(2), (byte[])reader.GetValue(3)));
            }
        }
        transaction.Commit();
        return changes;
    }

    public async ValueTask DisposeAsync()
    {
        _notices.Writer.TryComplete();
        await _dispatcher;
    }

    private static long StoredVersion(SqliteWriteContext context, string kind, string key)
    {
        var select = context.Command("SELECT version FROM objects WHERE kind = $kind AND key = $key;");
        select.Parameters.AddWithValue("$kind", kind);
        select.Parameters.AddWithValue("$key", key);
        return select.ExecuteScalar() is long v ? v : 0;
    }

    private static long NextVersion(SqliteWriteContext context, string kind)
    {
        var bump = context.Command(
            "INSERT INTO kinds (kind, version, compacted) VALUES ($kind, 1, 0) "
            + "ON CONFLICT (kind) DO UPDATE SET version = version + 1 RETURNING version;");
        bump.Parameters.AddWithValue("$kind", kind);
        return (long)bump.ExecuteScalar()!;
    }

    private long Append(SqliteWriteContext context, string kind, StoredChange change)
    {
        var insert = context.Command("INSERT INTO changes (kind, version, type, key, payload) VALUES ($kind, $version, $type, $key, $payload);");
        insert.Parameters.AddWithValue("$kind", kind);
        insert.Parameters.AddWithValue("$version", change.Version);
        insert.Parameters.AddWithValue("$type", (int)change.Type);
        insert.Parameters.AddWithValue("$key", change.Key);
        insert.Parameters.AddWithValue("$payload", change.Payload);
        insert.ExecuteNonQuery();
        if (change.Version % _compactEvery == 0 && change.Version > _retain)
        {
            // Keep the last WatchLogCapacity changes of the kind for watches to resume from.
            var upTo = change.Version - _retain;
            var compact = context.Command("DELETE FROM changes WHERE kind = $kind AND version <= $upTo;");
            compact.Parameters.AddWithValue("$kind", kind);
            compact.Parameters.AddWithValue("$upTo", upTo);
            compact.ExecuteNonQuery();
            var mark = context.Command("UPDATE kinds SET compacted = max(compacted, $upTo) WHERE kind = $kind;");
            mark.Parameters.AddWithValue("$kind", kind);
            mark.Parameters.AddWithValue("$upTo", upTo);
            mark.ExecuteNonQuery();
        }
        context.OnCommitted(() =>
        {
            _committed.AddOrUpdate(kind, change.Version, (_, known) => Math.Max(known, change.Version));
            _notices.Writer.TryWrite(new CommitNotice(kind, change.Version, [change]));
        });
        return change.Version;
    }

    private static async Task<(long Version, long Compacted)> KindVersionAsync(SqliteConnection connection, string kind)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT version, compacted FROM kinds WHERE kind = $kind;";
        command.Parameters.AddWithValue("$kind", kind);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
    }

    /// <summary>Hands commits to followers in commit order, off the writer thread.</summary>
    private async Task DispatchAsync()
    {
        await foreach (var notice in _notices.Reader.ReadAllAsync())
        {
            try
            {
                Committed?.Invoke(notice);
            }
            catch (Exception ex)
            {
                LogFollowerFailed(_logger, ex, notice.Kind);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A follower of {Kind} failed to take a change")]
    private static partial void LogFollowerFailed(ILogger logger, Exception exception, string kind);
}
