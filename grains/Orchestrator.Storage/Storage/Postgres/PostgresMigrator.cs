using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Npgsql;
using Polly;
using Polly.Retry;

namespace Orchestrator.Grains.Storage.Postgres;

/// <summary>
/// Brings the cluster profile's PostgreSQL schema up to date: applies, in order, each embedded
/// migration (<c>Storage/Postgres/Migrations/NNNN_name.sql</c>) the database has not recorded in
/// <c>orchestrator_schema_migrations</c>.
/// </summary>
/// <remarks>
/// <para>
/// Everything runs in one transaction that first takes a transaction-scoped advisory lock, so
/// silos starting together queue up: the first applies what is missing, the others then find it
/// recorded and change nothing. PostgreSQL DDL is transactional, so a migration that fails leaves
/// nothing half-applied.
/// </para>
/// <para>
/// Each applied migration's SHA-256 is recorded; a database whose record differs from the embedded
/// file stops the silo, because a shipped migration was edited (add a new one instead) or the
/// database belongs to another build.
/// </para>
/// </remarks>
public sealed partial class PostgresMigrator(NpgsqlDataSource dataSource, ILogger<PostgresMigrator> logger)
{
    /// <summary>Key of the advisory lock that serializes migrations ("ORCHMIGR" in ASCII).</summary>
    private const long LockKey = 0x4f5243484d494752;

    private const string ResourcePrefix = "Orchestrator.Migrations.";

    private static readonly Lazy<IReadOnlyList<PostgresMigration>> Embedded = new(LoadEmbedded);

    /// <summary>The migrations this build carries, in the order they apply.</summary>
    public static IReadOnlyList<PostgresMigration> Migrations => Embedded.Value;

    /// <summary>Applies every migration the database lacks.</summary>
    /// <returns>The versions applied now; empty when the database was already up to date.</returns>
    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken = default)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (connection)
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (transaction)
            {
                await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({LockKey});", cancellationToken);
                await ExecuteAsync(connection, """
                    CREATE TABLE IF NOT EXISTS orchestrator_schema_migrations (
                        version    integer     NOT NULL PRIMARY KEY,
                        name       text        NOT NULL,
                        sha256     text        NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    );
                    """, cancellationToken);

                var applied = await ReadAppliedAsync(connection, cancellationToken);
                foreach (var (version, (name, sha256)) in applied)
                {
                    var known = Migrations.FirstOrDefault(m => m.Version == version);
                    if (known is null)
                    {
                        throw new InvalidOperationException(
                            $"The database has migration {version} ({name}), which this build does not know: it was migrated by a newer build. "
                            + "Run a build at least as new, or point Orchestrator:Postgres at another database.");
                    }
                    if (!string.Equals(known.Sha256, sha256, StringComparison.Ordinal))
                    {
                        throw new InvalidOperationException(
                            $"Migration {version} ({name}) was applied with different contents (sha256 {sha256}) than this build carries ({known.Sha256}). "
                            + "Shipped migrations must never change: restore the original file and add a new migration instead.");
                    }
                }

                var done = new List<int>();
                foreach (var migration in Migrations.Where(m => !applied.ContainsKey(m.Version)))
                {
                    var started = Stopwatch.GetTimestamp();
                    await ExecuteAsync(connection, migration.Sql, cancellationToken);
                    await using (var record = new NpgsqlCommand(
                        "INSERT INTO orchestrator_schema_migrations (version, name, sha256) VALUES (@version, @name, @sha256);", connection))
                    {
                        record.Parameters.AddWithValue("version", migration.Version);
                        record.Parameters.AddWithValue("name", migration.Name);
                        record.Parameters.AddWithValue("sha256", migration.Sha256);
                        await record.ExecuteNonQueryAsync(cancellationToken);
                    }
                    LogApplied(logger, migration.Version, migration.Name, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    done.Add(migration.Version);
                }

                await transaction.CommitAsync(cancellationToken);
                if (done.Count == 0)
                {
                    LogUpToDate(logger, Migrations.Count == 0 ? 0 : Migrations[^1].Version);
                }
                return done;
            }
        }
    }

    /// <summary>
    /// Migrates, retrying while the database cannot be reached (PostgreSQL still starting, or a
    /// network blip) until <paramref name="timeout"/> has passed; then fails with an error that says
    /// what to check. Errors that retrying cannot fix (bad credentials, a missing database, a
    /// failing migration) fail at once.
    /// </summary>
    public async Task MigrateWhenReachableAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        // 100 ms after the first failure, doubling up to 2 s between attempts, as long as the next
        // attempt would still start within the timeout.
        static TimeSpan Pause(int attempt) => TimeSpan.FromMilliseconds(Math.Min(100 * Math.Pow(2, Math.Min(attempt, 16)), 2000));
        var retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex && IsUnreachable(ex)
                    && !args.Context.CancellationToken.IsCancellationRequested
                    && Stopwatch.GetElapsedTime(started) + Pause(args.AttemptNumber) <= timeout),
                MaxRetryAttempts = int.MaxValue,
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(Pause(args.AttemptNumber)),
                OnRetry = args =>
                {
                    LogWaiting(logger, Describe(dataSource), args.AttemptNumber + 1, args.Outcome.Exception!.GetBaseException().Message);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
        try
        {
            await retry.ExecuteAsync(async token => await MigrateAsync(token), cancellationToken);
        }
        catch (Exception ex) when (IsUnreachable(ex) && !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException(
                $"PostgreSQL at {Describe(dataSource)} could not be reached within {timeout.TotalSeconds:0.#} s ({ex.GetBaseException().Message}). "
                + "Check that it is running and that Orchestrator:Postgres is right; Orchestrator:PostgresStartTimeout sets how long to wait.",
                ex);
        }
    }

    /// <summary>Whether the failure means the database was not reachable (worth waiting for).</summary>
    internal static bool IsUnreachable(Exception ex) => ex switch
    {
        // 57P03: the database system is starting up; 57P01: shutting down (a restart in progress).
        PostgresException pg => pg.SqlState is PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.AdminShutdown,
        NpgsqlException npgsql => npgsql.IsTransient,
        TimeoutException => true,
        _ => false,
    };

    private static string Describe(NpgsqlDataSource source)
    {
        var builder = new NpgsqlConnectionStringBuilder(source.ConnectionString);
        return $"{builder.Host}:{builder.Port}/{builder.Database}";
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<Dictionary<int, (string Name, string Sha256)>> ReadAppliedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var applied = new Dictionary<int, (string, string)>();
        await using var command = new NpgsqlCommand("SELECT version, name, sha256 FROM orchestrator_schema_migrations;", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            applied[reader.GetInt32(0)] = (reader.GetString(1), reader.GetString(2));
        }
        return applied;
    }

    private static List<PostgresMigration> LoadEmbedded()
    {
        var assembly = typeof(PostgresMigrator).Assembly;
        var migrations = new List<PostgresMigration>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            var fileName = resource[ResourcePrefix.Length..];
            var match = MigrationFileName().Match(fileName);
            if (!match.Success)
            {
                throw new InvalidOperationException($"Embedded migration \"{fileName}\" must be named NNNN_description.sql.");
            }
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            // Hashed with \n line endings, so a checkout that converts them does not look edited.
            var sql = reader.ReadToEnd().ReplaceLineEndings("\n");
            var sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
            migrations.Add(new PostgresMigration(
                int.Parse(match.Groups["version"].Value, CultureInfo.InvariantCulture),
                match.Groups["name"].Value,
                sql,
                sha256));
        }
        var duplicate = migrations.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"Two embedded migrations share version {duplicate.Key}.");
        }
        return [.. migrations.OrderBy(m => m.Version)];
    }

    [GeneratedRegex(@"^(?<version>\d{4})_(?<name>[a-z0-9_]+)\.sql$")]
    private static partial Regex MigrationFileName();

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied PostgreSQL migration {Version} ({Name}) in {ElapsedMilliseconds} ms")]
    private static partial void LogApplied(ILogger logger, int version, string name, double elapsedMilliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "PostgreSQL schema is up to date (migration {Version})")]
    private static partial void LogUpToDate(ILogger logger, int version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL at {Database} is not reachable yet (attempt {Attempt}: {Reason}); retrying")]
    private static partial void LogWaiting(ILogger logger, string database, int attempt, string reason);
}

/// <summary>One embedded schema migration.</summary>
/// <param name="Version">Its number, from the file name; migrations apply in this order.</param>
/// <param name="Name">The rest of the file name, e.g. "orleans_storage_and_reminders".</param>
/// <param name="Sql">The script.</param>
/// <param name="Sha256">Hex SHA-256 of the script, recorded when applied.</param>
public sealed record PostgresMigration(int Version, string Name, string Sql, string Sha256);
