using Npgsql;

namespace Orchestrator.Grains.Storage.Postgres;

/// <summary>
/// The cluster profile's PostgreSQL database: grain state (through
/// Microsoft.Orleans.Persistence.AdoNet) and reminders (Microsoft.Orleans.Reminders.AdoNet), shared
/// by every silo of the cluster. The silo brings the schema up to date when it starts
/// (<see cref="PostgresMigrator"/>), so the database only has to exist.
/// </summary>
public sealed class PostgresStorageOptions
{
    /// <summary>The ADO.NET invariant the Orleans providers load Npgsql by.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>
    /// Npgsql connection string. Default <c>Host=127.0.0.1;Port=5432;Database=orchestrator;Username=orchestrator</c>.
    /// </summary>
    public string ConnectionString { get; set; } = "Host=127.0.0.1;Port=5432;Database=orchestrator;Username=orchestrator";

    /// <summary>
    /// How long a starting silo keeps trying to reach the database (to apply migrations) before it
    /// gives up and stops with an error. Covers PostgreSQL starting alongside the silos. Default 60 s.
    /// </summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The connection string with what the silo relies on filled in where the user left it out:
    /// an application name (shows in pg_stat_activity) and a short connect timeout, so that a
    /// request made while the database is down fails in seconds with a 503 instead of waiting
    /// Npgsql's default 15 s.
    /// </summary>
    public string EffectiveConnectionString()
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        if (string.IsNullOrEmpty(builder.ApplicationName))
        {
            builder.ApplicationName = "orchestrator-silo";
        }
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = ConnectionString };
        if (!given.ContainsKey("Timeout") && !given.ContainsKey("Connect Timeout"))
        {
            builder.Timeout = 5;
        }
        return builder.ConnectionString;
    }
}
