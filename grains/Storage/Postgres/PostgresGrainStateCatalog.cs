using System.Runtime.CompilerServices;
using Npgsql;
using Orleans.Storage;

namespace Orchestrator.Grains.Storage.Postgres;

/// <summary>
/// <see cref="IGrainStateCatalog"/> over the cluster profile's grain state table, as written by
/// <see cref="PostgresGrainStorage"/>: a grain type's rows are the keys between "type/" and
/// "type0" ('0' follows '/'), a contiguous range of the primary key in the "C" collation.
/// </summary>
public sealed class PostgresGrainStateCatalog : IGrainStateCatalog
{
    // Rows per query. Each page is a short query of its own, so a caller that does slow work per
    // item never holds a connection (or a snapshot) open for the whole enumeration.
    private const int PageSize = 500;

    private const string PageSql = """
        SELECT grain_key, payload
        FROM orchestrator_grain_state
        WHERE service_id = @service AND state_name = @state
          AND grain_key > @after AND grain_key < @end
          AND grain_id_n0 = 0 AND grain_id_n1 = 0
          AND payload IS NOT NULL
        ORDER BY grain_key
        LIMIT @limit;
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _serviceId;
    private readonly IGrainStorageSerializer _serializer;

    /// <summary>Creates the catalog.</summary>
    /// <param name="dataSource">The database.</param>
    /// <param name="serviceId">The Orleans service id the states were stored under.</param>
    /// <param name="serializer">The serializer the grain storage provider writes with.</param>
    public PostgresGrainStateCatalog(NpgsqlDataSource dataSource, string serviceId, IGrainStorageSerializer serializer)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentException.ThrowIfNullOrEmpty(serviceId);
        ArgumentNullException.ThrowIfNull(serializer);
        _dataSource = dataSource;
        _serviceId = serviceId;
        _serializer = serializer;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<(string GrainKey, T? State)> ReadAllAsync<T>(
        string grainType,
        string stateName,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(grainType);
        ArgumentNullException.ThrowIfNull(stateName);

        var prefix = PostgresGrainStorage.KeyPrefix(grainType);
        var end = grainType + "0";
        var after = prefix;
        while (true)
        {
            var from = after;
            var page = await PostgresFailures.RunAsync(_dataSource, () => ReadPageAsync(stateName, from, end, cancellationToken));
            foreach (var (storedKey, payload) in page)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return (storedKey[prefix.Length..], _serializer.Deserialize<T>(new BinaryData(payload)));
            }
            if (page.Count < PageSize)
            {
                yield break;
            }
            after = page[^1].StoredKey;
        }
    }

    /// <inheritdoc />
    public async Task<T?> ReadAsync<T>(string grainType, string grainKey, string stateName, CancellationToken cancellationToken = default)
    {
        var payload = await PostgresFailures.RunAsync(_dataSource, async () =>
        {
            await using var command = _dataSource.CreateCommand("""
                SELECT payload FROM orchestrator_grain_state
                WHERE service_id = @service AND state_name = @state AND grain_key = @key
                  AND grain_id_n0 = 0 AND grain_id_n1 = 0 AND payload IS NOT NULL;
                """);
            command.Parameters.AddWithValue("service", _serviceId);
            command.Parameters.AddWithValue("state", stateName);
            command.Parameters.AddWithValue("key", PostgresGrainStorage.StoredKey(grainType, grainKey));
            return await command.ExecuteScalarAsync(cancellationToken) as byte[];
        });
        return payload is null ? default : _serializer.Deserialize<T>(new BinaryData(payload));
    }

    private async Task<List<(string StoredKey, byte[] Payload)>> ReadPageAsync(string stateName, string after, string end, CancellationToken cancellationToken)
    {
        var page = new List<(string, byte[])>();
        await using var command = _dataSource.CreateCommand(PageSql);
        command.Parameters.AddWithValue("service", _serviceId);
        command.Parameters.AddWithValue("state", stateName);
        command.Parameters.AddWithValue("after", after);
        command.Parameters.AddWithValue("end", end);
        command.Parameters.AddWithValue("limit", PageSize);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            page.Add((reader.GetString(0), reader.GetFieldValue<byte[]>(1)));
        }
        return page;
    }
}
