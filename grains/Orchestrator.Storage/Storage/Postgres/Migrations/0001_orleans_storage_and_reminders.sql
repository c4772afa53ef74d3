-- Migration 0001: grain state and reminders for the cluster profile.
--
-- Microsoft.Orleans.Persistence.AdoNet and Microsoft.Orleans.Reminders.AdoNet (10.4.2) ship no
-- PostgreSQL schema; they read the SQL they run from the OrleansQuery table, by key. This file
-- creates our own tables and registers our own statements under the keys and with the parameter
-- and column names those providers use (see PostgresMigrator for how it is applied: once, in one
-- transaction, under an advisory lock). Shipped migrations are never edited: add 0002_... instead.
--
-- Parameters arrive as Npgsql named parameters (@Name). Every statement names its result columns
-- exactly as the providers read them.

-- The providers' query registry: "SELECT QueryKey, QueryText FROM OrleansQuery" (unquoted, so
-- PostgreSQL folds the names to lower case, as here).
CREATE TABLE IF NOT EXISTS orleansquery (
    querykey  varchar(64) NOT NULL PRIMARY KEY,
    querytext text        NOT NULL
);

-- Grain state. A row is one persistent state of one grain.
--
-- Orleans passes the grain's identity as (GrainIdN0, GrainIdN1, GrainIdExtensionString) and the
-- state name as GrainTypeString; it passes no grain type. The cluster profile's PostgresGrainStorage
-- therefore hands the provider the full grain id ("pod/default/web-1") as a string key, which lands
-- in grain_key; numeric ids stay in n0/n1 for grains stored without that wrapper.
-- grain_key uses the "C" collation so that a grain type's rows form one contiguous index range
-- ("pod/" up to "pod0"), which is how PostgresGrainStateCatalog lists them.
CREATE TABLE IF NOT EXISTS orchestrator_grain_state (
    service_id  text    NOT NULL,
    state_name  text    NOT NULL,
    grain_key   text    COLLATE "C" NOT NULL,
    grain_id_n0 bigint  NOT NULL,
    grain_id_n1 bigint  NOT NULL,
    -- The ETag. Orleans parses it as a 32-bit integer, so it wraps below int.MaxValue.
    version     integer NOT NULL,
    -- NULL after ClearStorageKey (a cleared state that keeps its row and version).
    payload     bytea,
    modified_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, state_name, grain_key, grain_id_n0, grain_id_n1)
);

-- A new row's version starts from this sequence rather than at 1, so a row that is deleted and
-- written again does not reuse the ETags of its previous life: a stale activation still holding
-- one of those (possible for a moment while silos join or leave) gets a conflict, not a match.
CREATE SEQUENCE IF NOT EXISTS orchestrator_grain_state_version_seed;

-- Reminders: one row per (grain, reminder name). grain_hash is the grain id's uniform hash as a
-- signed 32-bit integer; each silo reads the hash ranges of the ring it owns.
CREATE TABLE IF NOT EXISTS orchestrator_reminders (
    service_id    text        NOT NULL,
    grain_id      text        NOT NULL,
    reminder_name text        NOT NULL,
    grain_hash    integer     NOT NULL,
    start_time    timestamptz NOT NULL,
    period_ms     bigint      NOT NULL,
    version       integer     NOT NULL,
    PRIMARY KEY (service_id, grain_id, reminder_name)
);

CREATE INDEX IF NOT EXISTS orchestrator_reminders_by_hash ON orchestrator_reminders (service_id, grain_hash);

-- The statements. Upserted so that a database where someone registered other texts under these
-- keys (the database belongs to the orchestrator) ends up with ours.
INSERT INTO orleansquery (querykey, querytext) VALUES

-- Grain storage (Orleans.Storage.AdoNetGrainStorage). Parameters of every statement: ServiceId,
-- GrainTypeString (the state name), GrainIdN0, GrainIdN1, GrainIdExtensionString (null when the
-- id has none), GrainIdHash and GrainTypeHash (unused: the key columns are indexed directly).

-- Reads PayloadBinary (null when cleared) and Version; no row when the state was never written.
('ReadFromStorageKey', $sql$
SELECT payload AS "PayloadBinary", version AS "Version"
FROM orchestrator_grain_state
WHERE service_id = @ServiceId
  AND state_name = @GrainTypeString
  AND grain_key = COALESCE(@GrainIdExtensionString, '')
  AND grain_id_n0 = @GrainIdN0
  AND grain_id_n1 = @GrainIdN1;
$sql$),

-- Writes PayloadBinary when the stored version equals GrainStateVersion, or inserts when
-- GrainStateVersion is null and no row exists. Returns NewGrainStateVersion; no row means the
-- ETag did not match, which the provider reports as InconsistentStateException.
('WriteToStorageKey', $sql$
WITH updated AS (
    UPDATE orchestrator_grain_state
    SET payload = @PayloadBinary,
        version = version % 2147483646 + 1,
        modified_at = now()
    WHERE service_id = @ServiceId
      AND state_name = @GrainTypeString
      AND grain_key = COALESCE(@GrainIdExtensionString, '')
      AND grain_id_n0 = @GrainIdN0
      AND grain_id_n1 = @GrainIdN1
      AND version = @GrainStateVersion
    RETURNING version
), inserted AS (
    INSERT INTO orchestrator_grain_state (service_id, state_name, grain_key, grain_id_n0, grain_id_n1, version, payload)
    SELECT @ServiceId, @GrainTypeString, COALESCE(@GrainIdExtensionString, ''), @GrainIdN0, @GrainIdN1,
           (nextval('orchestrator_grain_state_version_seed') % 1000000000 + 1)::integer, @PayloadBinary
    WHERE @GrainStateVersion IS NULL
    ON CONFLICT DO NOTHING
    RETURNING version
)
SELECT version AS "NewGrainStateVersion" FROM updated
UNION ALL
SELECT version FROM inserted;
$sql$),

-- Clears the payload but keeps the row, bumping its version (used when DeleteStateOnClear is
-- false). Returns the new version; no row means the ETag did not match.
('ClearStorageKey', $sql$
UPDATE orchestrator_grain_state
SET payload = NULL,
    version = version % 2147483646 + 1,
    modified_at = now()
WHERE service_id = @ServiceId
  AND state_name = @GrainTypeString
  AND grain_key = COALESCE(@GrainIdExtensionString, '')
  AND grain_id_n0 = @GrainIdN0
  AND grain_id_n1 = @GrainIdN1
  AND version = @GrainStateVersion
RETURNING version;
$sql$),

-- Deletes the row (DeleteStateOnClear = true, what the cluster profile uses, so deleted objects
-- leave nothing behind). The provider expects a value different from GrainStateVersion on
-- success, so it returns the version the row would have had next; no row means a conflict.
('DeleteStorageKey', $sql$
DELETE FROM orchestrator_grain_state
WHERE service_id = @ServiceId
  AND state_name = @GrainTypeString
  AND grain_key = COALESCE(@GrainIdExtensionString, '')
  AND grain_id_n0 = @GrainIdN0
  AND grain_id_n1 = @GrainIdN1
  AND version = @GrainStateVersion
RETURNING version % 2147483646 + 1;
$sql$),

-- Reminders (Orleans.Runtime.ReminderService.AdoNetReminderTable). Rows are read as GrainId,
-- ReminderName, StartTime, Period (milliseconds) and Version (the ETag).

-- All reminders of one grain: ServiceId, GrainId.
('ReadReminderRowsKey', $sql$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period_ms AS "Period", version AS "Version"
FROM orchestrator_reminders
WHERE service_id = @ServiceId AND grain_id = @GrainId;
$sql$),

-- Reminders whose hash is in the ring range (BeginHash, EndHash], used when BeginHash < EndHash.
('ReadRangeRows1Key', $sql$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period_ms AS "Period", version AS "Version"
FROM orchestrator_reminders
WHERE service_id = @ServiceId
  AND grain_hash > @BeginHash AND grain_hash <= @EndHash;
$sql$),

-- The same for a range that wraps around the ring (BeginHash >= EndHash; equal means all of it).
('ReadRangeRows2Key', $sql$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period_ms AS "Period", version AS "Version"
FROM orchestrator_reminders
WHERE service_id = @ServiceId
  AND (grain_hash > @BeginHash OR grain_hash <= @EndHash);
$sql$),

-- One reminder: ServiceId, GrainId, ReminderName.
('ReadReminderRowKey', $sql$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period_ms AS "Period", version AS "Version"
FROM orchestrator_reminders
WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName;
$sql$),

-- Inserts or replaces a reminder: ServiceId, GrainHash, GrainId, ReminderName, StartTime (UTC),
-- Period (milliseconds). Returns the new Version.
('UpsertReminderRowKey', $sql$
INSERT INTO orchestrator_reminders AS r (service_id, grain_id, reminder_name, grain_hash, start_time, period_ms, version)
VALUES (@ServiceId, @GrainId, @ReminderName, @GrainHash, @StartTime, @Period, 1)
ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
SET grain_hash = EXCLUDED.grain_hash,
    start_time = EXCLUDED.start_time,
    period_ms = EXCLUDED.period_ms,
    version = r.version % 2147483646 + 1
RETURNING version AS "Version";
$sql$),

-- Deletes a reminder if its Version still matches; returns one boolean: whether it did.
('DeleteReminderRowKey', $sql$
WITH deleted AS (
    DELETE FROM orchestrator_reminders
    WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName
      AND version = @Version
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM deleted);
$sql$),

-- Deletes every reminder of the service (Orleans uses it in tests only).
('DeleteReminderRowsKey', $sql$
DELETE FROM orchestrator_reminders WHERE service_id = @ServiceId;
$sql$)

ON CONFLICT (querykey) DO UPDATE SET querytext = EXCLUDED.querytext;
