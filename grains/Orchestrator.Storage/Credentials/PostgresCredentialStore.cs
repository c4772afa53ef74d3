using System.Text.Json;
using Npgsql;
using Orchestrator.Grains.Security;

namespace Orchestrator.Grains.Storage.Credentials;

/// <summary>
/// The cluster profile keeps the cluster's credentials in PostgreSQL, one row that the first silo
/// inserts and every other silo reads, so all silos serve certificates of the same CA and accept
/// the same tokens. Read before the silo starts (its serving certificate needs the CA), so it
/// creates its own table rather than waiting for the migrations.
/// </summary>
public sealed class PostgresCredentialStore(string connectionString) : ICredentialStore
{
    private const string CreateTable = """
        CREATE TABLE IF NOT EXISTS cluster_credentials (
            name text PRIMARY KEY,
            value jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now())
        """;

    public async Task<StoredCredentials?> LoadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadAsync(connection, cancellationToken);
    }

    public async Task<StoredCredentials> AddAsync(StoredCredentials credentials, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using (var insert = new NpgsqlCommand("INSERT INTO cluster_credentials (name, value) VALUES ('cluster', @value) ON CONFLICT (name) DO NOTHING", connection))
        {
            insert.Parameters.AddWithValue("value", NpgsqlTypes.NpgsqlDbType.Jsonb, JsonSerializer.Serialize(credentials));
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        return await ReadAsync(connection, cancellationToken) ?? throw new InvalidOperationException("the cluster's credentials vanished right after they were stored");
    }

    public async Task<StoredCredentials> AddNodeBootstrapSecretAsync(string secret, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // Only where none is set, in one statement: of silos upgrading at once, the first wins.
        const string Update = """
            UPDATE cluster_credentials SET value = jsonb_set(value, '{NodeBootstrapSecret}', to_jsonb(@secret::text))
            WHERE name = 'cluster' AND value->>'NodeBootstrapSecret' IS NULL
            """;
        await using (var update = new NpgsqlCommand(Update, connection))
        {
            update.Parameters.AddWithValue("secret", secret);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }
        return await ReadAsync(connection, cancellationToken) ?? throw new InvalidOperationException("the cluster's credentials are not stored");
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var create = new NpgsqlCommand(CreateTable, connection);
        try
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UniqueViolation)
        {
            // Two silos created the table at once; it exists.
        }
        return connection;
    }

    private static async Task<StoredCredentials?> ReadAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var select = new NpgsqlCommand("SELECT value::text FROM cluster_credentials WHERE name = 'cluster'", connection);
        return await select.ExecuteScalarAsync(cancellationToken) is string json ? JsonSerializer.Deserialize<StoredCredentials>(json) : null;
    }
}
