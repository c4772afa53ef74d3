using System.Data;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Orchestrator.Grains.Storage;

/// <summary>
/// Grain storage in the embedded profile's SQLite database: one row per
/// (grain type, grain key, state name), with an integer version as the ETag.
/// </summary>
public sealed partial class SqliteGrainStorage : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    private const string SelectVersionSql =
        "SELECT version FROM grain_state WHERE grain_type = $type AND grain_key = $key AND state_name = $state;";

    private const string SelectRowSql =
        "SELECT version, payload FROM grain_state WHERE grain_type = $type AND grain_key = $key AND state_name = $state;";

    private const string InsertSql =
        "INSERT INTO grain_state (grain_type, grain_key, state_name, version, payload) "
        + "VALUES ($type, $key, $state, $version, $payload) ON CONFLICT DO NOTHING;";

    private const string UpdateSql =
        "UPDATE grain_state SET version = $version, payload = $payload "
        + "WHERE grain_type = $type AND grain_key = $key AND state_name = $state AND version = $expected;";

    private const string DeleteSql =
        "DELETE FROM grain_state WHERE grain_type = $type AND grain_key = $key AND state_name = $state AND version = $expected;";

    private readonly string _name;
    private readonly SqliteDatabase _database;
    private readonly IGrainStorageSerializer _serializer;
    private readonly ILogger<SqliteGrainStorage> _logger;
    private readonly IActivatorProvider? _activatorProvider;

    /// <summary>Creates the provider.</summary>
    /// <param name="name">The provider name (the <c>storageName</c> grains ask for).</param>
    /// <param name="options">This provider's options; <see cref="SqliteStorageOptions.GrainStorageSerializer"/> must be set.</param>
    /// <param name="database">The shared database.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="activatorProvider">
    /// Creates the fresh state object that <see cref="ClearStateAsync{T}(string, GrainId, IGrainState{T})"/> leaves
    /// behind, as Orleans' own providers do; without it the cleared state object is left as it was.
    /// </param>
    public SqliteGrainStorage(
        string name,
        SqliteStorageOptions options,
        SqliteDatabase database,
        ILogger<SqliteGrainStorage> logger,
        IActivatorProvider? activatorProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(logger);
        _name = name;
        _database = database;
        _logger = logger;
        _activatorProvider = activatorProvider;
        _serializer = options.GrainStorageSerializer ?? throw new InvalidOperationException(
            $"Grain storage '{name}' has no serializer: set {nameof(SqliteStorageOptions)}.{nameof(SqliteStorageOptions.GrainStorageSerializer)} "
            + $"or register an {nameof(IGrainStorageSerializer)} in the service collection.");
    }

    /// <inheritdoc />
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        => ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        var row = new RowKey(grainId, stateName);
        try
        {
            var stored = await ReadRowAsync(row, cancellationToken).ConfigureAwait(false);
            if (stored is not { } found)
            {
                // Missing row: the state stays the default object the caller created.
                grainState.ETag = null;
                grainState.RecordExists = false;
                return;
            }

            var state = _serializer.Deserialize<T>(new BinaryData(found.Payload));
            if (state is not null)
            {
                grainState.State = state;
            }
            else if (_activatorProvider is not null)
            {
                grainState.State = _activatorProvider.GetActivator<T>().Create();
            }

            grainState.ETag = FormatETag(found.Version);
            grainState.RecordExists = true;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogReadFailed(_logger, exception, _name, stateName, grainId);
            throw;
        }
    }

    /// <inheritdoc />
    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        => WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        var row = new RowKey(grainId, stateName);
        var currentETag = grainState.ETag;
        try
        {
            // Serialize on the caller's thread: the writer thread is the bottleneck, keep it to SQL.
            var payload = ToArray(_serializer.Serialize(grainState.State));
            var version = await _database.WriteAsync(
                context => WriteRow(context, row, currentETag, payload),
                cancellationToken).ConfigureAwait(false);

            grainState.ETag = FormatETag(version);
            grainState.RecordExists = true;
        }
        catch (InconsistentStateException exception)
        {
            LogConflict(_logger, _name, stateName, grainId, exception.StoredEtag, exception.CurrentEtag);
            throw;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogWriteFailed(_logger, exception, _name, stateName, grainId);
            throw;
        }
    }

    /// <inheritdoc />
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        => ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        var row = new RowKey(grainId, stateName);
        var currentETag = grainState.ETag;
        try
        {
            await _database.WriteAsync(context => DeleteRow(context, row, currentETag), cancellationToken).ConfigureAwait(false);
            grainState.ETag = null;
            grainState.RecordExists = false;
            if (_activatorProvider is not null)
            {
                grainState.State = _activatorProvider.GetActivator<T>().Create();
            }
        }
        catch (InconsistentStateException exception)
        {
            LogConflict(_logger, _name, stateName, grainId, exception.StoredEtag, exception.CurrentEtag);
            throw;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogClearFailed(_logger, exception, _name, stateName, grainId);
            throw;
        }
    }

    /// <inheritdoc />
    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);

        // Being a lifecycle participant gets the provider (and so the database) created while the
        // silo starts: a bad data directory stops the silo instead of failing the first grain.
        lifecycle.Subscribe(
            $"{nameof(SqliteGrainStorage)}-{_name}",
            ServiceLifecycleStage.ApplicationServices,
            _ =>
            {
                LogStarted(_logger, _name, _database.DatabasePath);
                return Task.CompletedTask;
            });
    }

    private async Task<(long Version, byte[] Payload)?> ReadRowAsync(RowKey row, CancellationToken cancellationToken)
    {
        var connection = await _database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText = SelectRowSql;
            row.AddParameters(command);
            var reader = await command.ExecuteReaderAsync(CommandBehavior.SingleRow, cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return null;
                }

                return (reader.GetInt64(0), reader.GetFieldValue<byte[]>(1));
            }
        }
    }

    private static long WriteRow(SqliteWriteContext context, RowKey row, string? currentETag, byte[] payload)
    {
        var version = context.NextVersion();
        SqliteCommand command;
        if (currentETag is null)
        {
            // No ETag: the caller believes there is no row yet; an existing one is a conflict.
            command = context.Command(InsertSql);
        }
        else
        {
            command = context.Command(UpdateSql);
            command.Parameters.AddWithValue("$expected", ParseETag(currentETag));
        }

        row.AddParameters(command);
        command.Parameters.AddWithValue("$version", version);
        command.Parameters.AddWithValue("$payload", payload);
        if (command.ExecuteNonQuery() == 0)
        {
            throw Conflict(context, row, currentETag);
        }

        return version;
    }

    private static bool DeleteRow(SqliteWriteContext context, RowKey row, string? currentETag)
    {
        if (currentETag is null)
        {
            // Nothing to delete as far as the caller knows; a row someone else wrote is a conflict.
            if (ReadStoredVersion(context, row) is not null)
            {
                throw Conflict(context, row, currentETag);
            }

            return false;
        }

        var command = context.Command(DeleteSql);
        row.AddParameters(command);
        command.Parameters.AddWithValue("$expected", ParseETag(currentETag));
        if (command.ExecuteNonQuery() == 0)
        {
            throw Conflict(context, row, currentETag);
        }

        return true;
    }

    private static InconsistentStateException Conflict(SqliteWriteContext context, RowKey row, string? currentETag)
    {
        var storedETag = ReadStoredVersion(context, row) is { } stored ? FormatETag(stored) : null;
        return new InconsistentStateException(
            $"Grain state '{row.StateName}' of {row.GrainType}/{row.GrainKey} was changed by someone else: "
            + $"stored ETag {storedETag ?? "(none)"}, current ETag {currentETag ?? "(none)"}.",
            storedETag,
            currentETag);
    }

    private static long? ReadStoredVersion(SqliteWriteContext context, RowKey row)
    {
        var command = context.Command(SelectVersionSql);
        row.AddParameters(command);
        return command.ExecuteScalar() is long version ? version : null;
    }

    private static string FormatETag(long version) => version.ToString(CultureInfo.InvariantCulture);

    // An ETag this provider did not issue can never match: versions are positive.
    private static long ParseETag(string eTag)
        => long.TryParse(eTag, NumberStyles.None, CultureInfo.InvariantCulture, out var version) ? version : -1;

    private static byte[] ToArray(BinaryData data)
    {
        var memory = data.ToMemory();
        return MemoryMarshal.TryGetArray(memory, out var segment)
            && segment.Array is { } array
            && segment.Offset == 0
            && segment.Count == array.Length
            ? array
            : memory.ToArray();
    }

    private readonly record struct RowKey(string GrainType, string GrainKey, string StateName)
    {
        public RowKey(GrainId grainId, string stateName)
            : this(grainId.Type.ToString()!, grainId.Key.ToString()!, stateName)
        {
        }

        public void AddParameters(SqliteCommand command)
        {
            command.Parameters.AddWithValue("$type", GrainType);
            command.Parameters.AddWithValue("$key", GrainKey);
            command.Parameters.AddWithValue("$state", StateName);
        }
    }
}
