using System.Runtime.CompilerServices;
using Orleans.Storage;

namespace Orchestrator.Grains.Storage;

/// <summary><see cref="IGrainStateCatalog"/> over the SQLite grain state table.</summary>
public sealed class SqliteGrainStateCatalog : IGrainStateCatalog
{
    // Rows per read. The connection is released between pages, so a caller that does slow work per
    // item (calls to other grains) never holds a WAL snapshot open, which would stop checkpoints.
    private const int PageSize = 256;

    private const string FirstPageSql =
        "SELECT grain_key, payload FROM grain_state WHERE grain_type = $type AND state_name = $state "
        + "ORDER BY grain_key LIMIT $limit;";

    private const string NextPageSql =
        "SELECT grain_key, payload FROM grain_state WHERE grain_type = $type AND state_name = $state AND grain_key > $after "
        + "ORDER BY grain_key LIMIT $limit;";

    private readonly SqliteDatabase _database;
    private readonly IGrainStorageSerializer _serializer;

    /// <summary>Creates the catalog.</summary>
    /// <param name="database">The shared database.</param>
    /// <param name="serializer">The serializer the grain storage provider writes with.</param>
    public SqliteGrainStateCatalog(SqliteDatabase database, IGrainStorageSerializer serializer)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(serializer);
        _database = database;
        _serializer = serializer;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<(string GrainKey, T? State)> ReadAllAsync<T>(
        string grainType,
        string stateName,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(grainType);
        ArgumentNullException.ThrowIfNull(stateName);

        string? after = null;
        while (true)
        {
            var page = await ReadPageAsync(grainType, stateName, after, cancellationToken).ConfigureAwait(false);
            foreach (var (grainKey, payload) in page)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return (grainKey, _serializer.Deserialize<T>(new BinaryData(payload)));
            }

            if (page.Count < PageSize)
            {
                yield break;
            }

            after = page[^1].GrainKey;
        }
    }

    /// <inheritdoc />
    public async Task<T?> ReadAsync<T>(string grainType, string grainKey, string stateName, CancellationToken cancellationToken = default)
    {
        var connection = await _database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT payload FROM grain_state WHERE grain_type = $type AND grain_key = $key AND state_name = $state;";
            command.Parameters.AddWithValue("$type", grainType);
            command.Parameters.AddWithValue("$key", grainKey);
            command.Parameters.AddWithValue("$state", stateName);
            var payload = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as byte[];
            return payload is null ? default : _serializer.Deserialize<T>(new BinaryData(payload));
        }
    }

    private async Task<List<(string GrainKey, byte[] Payload)>> ReadPageAsync(
        string grainType,
        string stateName,
        string? after,
        CancellationToken cancellationToken)
    {
        var page = new List<(string GrainKey, byte[] Payload)>();
        var connection = await _database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText = after is null ? FirstPageSql : NextPageSql;
            command.Parameters.AddWithValue("$type", grainType);
            command.Parameters.AddWithValue("$state", stateName);
            command.Parameters.AddWithValue("$limit", PageSize);
            if (after is not null)
            {
                command.Parameters.AddWithValue("$after", after);
            }

            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    page.Add((reader.GetString(0), reader.GetFieldValue<byte[]>(1)));
                }
            }
        }

        return page;
    }
}
