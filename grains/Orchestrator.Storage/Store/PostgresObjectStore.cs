using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Storage.Postgres;

namespace Orchestrator.Grains.Store;

/// <summary>
/// The cluster profile's object store, shared by every silo: one call of <c>orch_write</c>
/// (migration 0002) per write stores the object, takes the kind's next version and appends the
/// change in one transaction, and NOTIFYs <c>orch_changes</c>. Each silo LISTENs on one
/// connection and passes the news to its caches, which then read the feed; a poll of the kinds'
/// versions every few seconds covers notifications lost while that connection was down.
/// </summary>
public sealed partial class PostgresObjectStore : IObjectStore, IAsyncDisposable
{
    private const string Channel = "orch_changes";

    /// <summary>The safety net behind LISTEN: how often every kind's version is read.</summary>
    private static readonly TimeSpan PollPeriod = TimeSpan.FromSeconds(2);

    /// <summary>Writes of one silo in PostgreSQL at once. A write holds its kind's version row
    /// until it commits, so the writes of a kind take turns there anyway; more of them in flight
    /// only hold pooled connections while they wait for that lock, and a burst of them emptied the
    /// pool (100), failing writes with 503. The rest wait here, in order, holding nothing.</summary>
    private const int ConcurrentWrites = 16;

    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger<PostgresObjectStore> _logger;
    private readonly long _retain;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _writeSlots = new(ConcurrentWrites);
    private readonly Task _listener;
    private readonly Task _poller;

    public PostgresObjectStore(NpgsqlDataSource dataSource, IOptions<ControlPlaneOptions> options, ILogger<PostgresObjectStore> logger)
    {
        _dataSource = dataSource;
        _logger = logger;
        _retain = options.Value.WatchLogCapacity;
        _listener = Task.Run(ListenAsync);
        _poller = Task.Run(PollAsync);
    }

    public event Action<CommitNotice>? Committed;

    public Task<long> PutAsync(string kind, string key, long expected, WatchEventType type, byte[] payload, object? value) =>
        WriteAsync(kind, key, expected, type, payload, delete: false, value);

    public Task<long> RemoveAsync(string kind, string key, long expected, byte[] lastPayload, object? value) =>
        WriteAsync(kind, key, expected, WatchEventType.Deleted, lastPayload, delete: true, value);

    private async Task<long> WriteAsync(string kind, string key, long expected, WatchEventType type, byte[] payload, bool delete, object? value)
    {
        await _writeSlots.WaitAsync();
        long version;
        try
        {
            version = await WriteOnceAsync(kind, key, expected, type, payload, delete);
        }
        finally
        {
            _writeSlots.Release();
        }
        if (version < 0)
        {
            throw new StoreConflictException(kind, key, expected, -version - 1);
        }
        Raise(new CommitNotice(kind, version, [new StoredChange(version, type, key, payload) { Value = value }]));
        return version;
    }

    private Task<long> WriteOnceAsync(string kind, string key, long expected, WatchEventType type, byte[] payload, bool delete) =>
        PostgresFailures.RunAsync(_dataSource, async () =>
        {
            await using var command = _dataSource.CreateCommand("SELECT orch_write($1, $2, $3, $4, $5, $6, $7);");
            command.Parameters.Add(new NpgsqlParameter { Value = kind, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = key, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = expected, NpgsqlDbType = NpgsqlDbType.Bigint });
            command.Parameters.Add(new NpgsqlParameter { Value = (short)type, NpgsqlDbType = NpgsqlDbType.Smallint });
            command.Parameters.Add(new NpgsqlParameter { Value = payload, NpgsqlDbType = NpgsqlDbType.Bytea });
            command.Parameters.Add(new NpgsqlParameter { Value = delete, NpgsqlDbType = NpgsqlDbType.Boolean });
            command.Parameters.Add(new NpgsqlParameter { Value = _retain, NpgsqlDbType = NpgsqlDbType.Bigint });
            return (long)(await command.ExecuteScalarAsync())!;
        });

    public Task<StoredObject?> GetAsync(string kind, string key) =>
        PostgresFailures.RunAsync(_dataSource, async () =>
        {
            await using var command = _dataSource.CreateCommand("SELECT version, payload FROM orch_objects WHERE kind = $1 AND key = $2 AND version > 0;");
            command.Parameters.Add(new NpgsqlParameter { Value = kind });
            command.Parameters.Add(new NpgsqlParameter { Value = key });
            await using var reader = await command.ExecuteReaderAsync();
            return await reader.ReadAsync() ? new StoredObject(key, reader.GetInt64(0), (byte[])reader.GetValue(1)) : null;
        });

    public Task<StoredList> ListAsync(string kind) =>
        PostgresFailures.RunAsync(_dataSource, async () =>
        {
            await using var connection = await _dataSource.OpenConnectionAsync();
            // One snapshot for the version and the rows.
            await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
            var (version, _) = await KindVersionAsync(connection, kind);
            var items = new List<StoredObject>();
            await using (var command = new NpgsqlCommand("SELECT key, version, payload FROM orch_objects WHERE kind = $1 AND version > 0;", connection))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = kind });
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    items.Add(new StoredObject(reader.GetString(0), reader.GetInt64(1), (byte[])reader.GetValue(2)));
                }
            }
            await transaction.CommitAsync();
            return new StoredList(items, version);
        });

    public Task<long> CurrentVersionAsync(string kind) =>
        PostgresFailures.RunAsync(_dataSource, async () =>
        {
            await using var connection = await _dataSource.OpenConnectionAsync();
            return (await KindVersionAsync(connection, kind)).Version;
        });

    public Task<IReadOnlyList<StoredChange>?> ChangesAsync(string kind, long after, int max) =>
        PostgresFailures.RunAsync<IReadOnlyList<StoredChange>?>(_dataSource, async () =>
        {
            await using var connection = await _dataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
            var (_, compacted) = await KindVersionAsync(connection, kind);
            if (after < compacted)
            {
                return null;
            }
            var changes = new List<StoredChange>();
            await using (var command = new NpgsqlCommand("SELECT version, type, key, payload FROM orch_changes WHERE kind = $1 AND version > $2 ORDER BY version LIMIT $3;", connection))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = kind });
                command.Parameters.Add(new NpgsqlParameter { Value = after });
                command.Parameters.Add(new NpgsqlParameter { Value = max });
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    changes.Add(new StoredChange(reader.GetInt64(0), (WatchEventType)reader.GetInt16(1), reader.GetString(2), (byte[])reader.GetValue(3)));
                }
            }
            await transaction.CommitAsync();
            return changes;
        });

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        try
        {
            await Task.WhenAll(_listener, _poller);
        }
        catch (OperationCanceledException)
        {
        }
        _stopping.Dispose();
        _writeSlots.Dispose();
    }

    private static async Task<(long Version, long Compacted)> KindVersionAsync(NpgsqlConnection connection, string kind)
    {
        await using var command = new NpgsqlCommand("SELECT version, compacted FROM orch_kinds WHERE kind = $1;", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = kind });
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
    }

    private void Raise(CommitNotice notice)
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

    private async Task ListenAsync()
    {
        var token = _stopping.Token;
        var delay = TimeSpan.FromMilliseconds(100);
        while (!token.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _dataSource.OpenConnectionAsync(token);
                connection.Notification += (_, e) =>
                {
                    var space = e.Payload.LastIndexOf(' ');
                    if (space > 0 && long.TryParse(e.Payload.AsSpan(space + 1), out var version))
                    {
                        Raise(new CommitNotice(e.Payload[..space], version, null));
                    }
                };
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel};", connection))
                {
                    await listen.ExecuteNonQueryAsync(token);
                }
                // Whatever was committed while no connection listened: the caches catch up.
                await RaiseAllKindsAsync(connection, token);
                delay = TimeSpan.FromMilliseconds(100);
                while (!token.IsCancellationRequested)
                {
                    await connection.WaitAsync(token);
                }
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                LogListenFailed(_logger, ex);
                await Task.Delay(delay, token);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            }
        }
    }

    private async Task PollAsync()
    {
        var token = _stopping.Token;
        using var timer = new PeriodicTimer(PollPeriod);
        while (await timer.WaitForNextTickAsync(token))
        {
            try
            {
                await using var connection = await _dataSource.OpenConnectionAsync(token);
                await RaiseAllKindsAsync(connection, token);
            }
            catch (Exception) when (!token.IsCancellationRequested)
            {
                // The database is away; the listener logs that, and the next tick tries again.
            }
        }
    }

    private async Task RaiseAllKindsAsync(NpgsqlConnection connection, CancellationToken token)
    {
        var kinds = new List<(string, long)>();
        try
        {
            await using var command = new NpgsqlCommand("SELECT kind, version FROM orch_kinds;", connection);
            await using var reader = await command.ExecuteReaderAsync(token);
            while (await reader.ReadAsync(token))
            {
                kinds.Add((reader.GetString(0), reader.GetInt64(1)));
            }
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            // The silo starting first has not migrated the database yet: nothing to follow.
            return;
        }
        foreach (var (kind, version) in kinds)
        {
            Raise(new CommitNotice(kind, version, null));
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A follower of {Kind} failed to take a change")]
    private static partial void LogFollowerFailed(ILogger logger, Exception exception, string kind);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listening for changes in PostgreSQL failed; reconnecting")]
    private static partial void LogListenFailed(ILogger logger, Exception exception);
}
