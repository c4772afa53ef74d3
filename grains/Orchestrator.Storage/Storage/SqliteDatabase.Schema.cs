using System.Globalization;

namespace Orchestrator.Grains.Storage;

public sealed partial class SqliteDatabase
{
    /// <summary>The schema version this build writes, kept in <c>PRAGMA user_version</c>.</summary>
    public const int SchemaVersion = 2;

    // Migrations[n - 1] takes the schema from version n - 1 to n. Append, never edit one that has
    // shipped: databases already at that version will not run it again.
    private static readonly string[] Migrations =
    [
        """
        -- Grain state. version is the ETag; it comes from the table-wide sequence below rather than
        -- counting per row, so a row deleted by ClearStateAsync and written again never reuses an
        -- ETag a stale activation may still hold.
        CREATE TABLE IF NOT EXISTS grain_state (
            grain_type TEXT NOT NULL,
            grain_key  TEXT NOT NULL,
            state_name TEXT NOT NULL,
            version    INTEGER NOT NULL,
            payload    BLOB NOT NULL,
            PRIMARY KEY (grain_type, grain_key, state_name)
        ) STRICT;

        -- Reminders. grain_hash is GrainId.GetUniformHashCode() (a uint, fits an INTEGER) for the
        -- ring-range reads each silo makes for the reminders it owns.
        CREATE TABLE IF NOT EXISTS reminders (
            grain_id      TEXT NOT NULL,
            reminder_name TEXT NOT NULL,
            grain_hash    INTEGER NOT NULL,
            start_at      INTEGER NOT NULL, -- DateTime ticks, UTC
            period        INTEGER NOT NULL, -- TimeSpan ticks
            etag          TEXT NOT NULL,
            PRIMARY KEY (grain_id, reminder_name)
        ) STRICT, WITHOUT ROWID;

        CREATE INDEX IF NOT EXISTS reminders_by_hash ON reminders (grain_hash);

        -- Monotonic counters; 'version' supplies grain state versions and reminder ETags.
        CREATE TABLE IF NOT EXISTS sequences (
            name  TEXT NOT NULL PRIMARY KEY,
            value INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;

        INSERT OR IGNORE INTO sequences (name, value) VALUES ('version', 0);
        """,
        """
        -- Objects and their change feed (IObjectStore). version is the object's resourceVersion,
        -- taken from its kind's counter in kinds within the same transaction as the change row.
        CREATE TABLE IF NOT EXISTS objects (
            kind    TEXT NOT NULL,
            key     TEXT NOT NULL,
            version INTEGER NOT NULL,
            payload BLOB NOT NULL,
            PRIMARY KEY (kind, key)
        ) STRICT;

        CREATE TABLE IF NOT EXISTS changes (
            kind    TEXT NOT NULL,
            version INTEGER NOT NULL,
            type    INTEGER NOT NULL, -- 0 added, 1 modified, 2 deleted
            key     TEXT NOT NULL,
            payload BLOB NOT NULL,
            PRIMARY KEY (kind, version)
        ) STRICT;

        -- version: the kind's last committed change; compacted: changes up to here are gone.
        CREATE TABLE IF NOT EXISTS kinds (
            kind      TEXT NOT NULL PRIMARY KEY,
            version   INTEGER NOT NULL,
            compacted INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;

        -- Objects stored by earlier builds as grain state ({"object": {...}}) move here.
        INSERT OR IGNORE INTO objects (kind, key, version, payload)
        SELECT CASE grain_type WHEN 'namespace' THEN 'namespaces' WHEN 'node' THEN 'nodes' WHEN 'pod' THEN 'pods' WHEN 'service' THEN 'services' WHEN 'endpoints' THEN 'endpoints' WHEN 'event' THEN 'events' WHEN 'replicaset' THEN 'replicasets.apps' WHEN 'deployment' THEN 'deployments.apps' END, grain_key,
               CAST(json_extract(CAST(payload AS TEXT), '$.object.metadata.resourceVersion') AS INTEGER),
               CAST(json_extract(CAST(payload AS TEXT), '$.object') AS BLOB)
        FROM grain_state
        WHERE state_name = 'object' AND json_extract(CAST(payload AS TEXT), '$.object') IS NOT NULL AND CASE grain_type WHEN 'namespace' THEN 'namespaces' WHEN 'node' THEN 'nodes' WHEN 'pod' THEN 'pods' WHEN 'service' THEN 'services' WHEN 'endpoints' THEN 'endpoints' WHEN 'event' THEN 'events' WHEN 'replicaset' THEN 'replicasets.apps' WHEN 'deployment' THEN 'deployments.apps' END IS NOT NULL;

        INSERT OR IGNORE INTO kinds (kind, version, compacted)
        SELECT kind, max(version), max(version) FROM objects GROUP BY kind;

        DELETE FROM grain_state WHERE state_name IN ('object', 'index');
        """,
    ];

    private void Migrate()
    {
        // IMMEDIATE takes the write lock before reading user_version, so two processes opening a
        // new file at once cannot both run the same migration.
        Execute(_writer, "BEGIN IMMEDIATE;");
        try
        {
            var current = Convert.ToInt32(ExecuteScalar(_writer, "PRAGMA user_version;"), CultureInfo.InvariantCulture);
            if (current > SchemaVersion)
            {
                throw new InvalidOperationException(
                    $"{DatabasePath} has schema version {current}, newer than this build understands ({SchemaVersion}). "
                    + $"Run a newer build, or set {nameof(SqliteStorageOptions)}.{nameof(SqliteStorageOptions.DataDirectory)} to another directory.");
            }

            for (var version = current + 1; version <= SchemaVersion; version++)
            {
                Execute(_writer, Migrations[version - 1]);
            }

            if (current != SchemaVersion)
            {
                Execute(_writer, $"PRAGMA user_version = {SchemaVersion};");
            }

            Execute(_writer, "COMMIT;");
            if (current != SchemaVersion)
            {
                LogMigrated(_logger, DatabasePath, current, SchemaVersion);
            }
        }
        catch
        {
            if (SqliteWriteContext.InTransaction(_writer))
            {
                Execute(_writer, "ROLLBACK;");
            }

            throw;
        }
    }
}
