using System.Text;
using Npgsql;
using Orchestrator.Grains.Storage.Postgres;
using Orleans.Storage;

namespace Orchestrator.Tests.Cluster;

/// <summary>
/// The cluster profile's PostgreSQL schema and providers, against a real PostgreSQL: the migration,
/// Orleans' ADO.NET grain storage and reminder table running our SQL.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PostgresStorageTests(ClusterStoresFixture stores)
{
    [Fact]
    public async Task MigrationAppliedTwiceChangesNothing()
    {
        await using var db = await PostgresStorageHarness.StartAsync(stores);
        // The harness started like a silo, so every migration has run once already.
        Assert.Equal((long)PostgresMigrator.Migrations.Count, await db.ScalarAsync<long>("SELECT count(*) FROM orchestrator_schema_migrations"));
        var before = await SnapshotAsync(db.ConnectionString);

        var applied = await db.Migrator.MigrateAsync();

        Assert.Empty(applied);
        Assert.Equal(before, await SnapshotAsync(db.ConnectionString));
    }

    [Fact]
    public async Task SilosStartingTogetherApplyTheMigrationOnce()
    {
        var connectionString = await stores.Postgres.CreateDatabaseAsync($"m{Guid.NewGuid():N}"[..16]);
        var sources = Enumerable.Range(0, 3).Select(_ => NpgsqlDataSource.Create(connectionString)).ToList();
        try
        {
            var migrators = sources.Select(s => new PostgresMigrator(s, Microsoft.Extensions.Logging.Abstractions.NullLogger<PostgresMigrator>.Instance));

            var results = await Task.WhenAll(migrators.Select(m => m.MigrateAsync()));

            Assert.Equal(1, results.Count(r => r.Count > 0));
            Assert.Equal(PostgresMigrator.Migrations.Select(m => m.Version), results.Single(r => r.Count > 0));
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var count = new NpgsqlCommand("SELECT count(*) FROM orchestrator_schema_migrations", connection);
            Assert.Equal((long)PostgresMigrator.Migrations.Count, await count.ExecuteScalarAsync());
        }
        finally
        {
            foreach (var s in sources)
            {
                await s.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task AnEditedMigrationIsRefused()
    {
        await using var db = await PostgresStorageHarness.StartAsync(stores);
        await db.ScalarAsync<int>("UPDATE orchestrator_schema_migrations SET sha256 = 'edited' WHERE version = 1 RETURNING version");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => db.Migrator.MigrateAsync());

        Assert.Contains("must never change", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryQueryTheProvidersReadIsRegistered()
    {
        await using var db = await PostgresStorageHarness.StartAsync(stores);
        string[] keys =
        [
            "ReadFromStorageKey", "WriteToStorageKey", "ClearStorageKey", "DeleteStorageKey",
            "ReadReminderRowsKey", "ReadRangeRows1Key", "ReadRangeRows2Key", "ReadReminderRowKey",
            "UpsertReminderRowKey", "DeleteReminderRowKey", "DeleteReminderRowsKey",
        ];
        var registered = await db.ScalarAsync<string[]>("SELECT array_agg(querykey ORDER BY querykey) FROM OrleansQuery");
        Assert.Equal(keys.Order(StringComparer.Ordinal), registered);
    }

    [Fact]
    public async Task ARenamedStateTypeStillLoads()
    {
        await using var db = await PostgresStorageHarness.StartAsync(stores);
        var id = GrainId.Create("deployment", "default/web");
        var written = new GrainState<StateBeforeRename> { State = new StateBeforeRename { Name = "web", Replicas = 3, Labels = { ["app"] = "web" } } };
        await db.Storage.WriteStateAsync("object", id, written);

        var read = new GrainState<StateAfterRename>();
        await db.Storage.ReadStateAsync("object", id, read);

        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal("web", read.State!.Name);
        Assert.Equal(3, read.State.Replicas);
        Assert.Equal("web", read.State.Labels["app"]);
        // What makes it work: the stored JSON names no .NET type.
        var json = Encoding.UTF8.GetString(await db.ScalarAsync<byte[]>("SELECT payload FROM orchestrator_grain_state WHERE grain_key = 'deployment/default/web'"));
        Assert.DoesNotContain(nameof(StateBeforeRename), json, StringComparison.Ordinal);
        Assert.DoesNotContain("$type", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GrainsOfDifferentTypesWithTheSameKeyKeepTheirOwnState()
    {
        await using var db = await PostgresStorageHarness.StartAsync(stores);
        // A Service and its Endpoints share "namespace/name"; both allocators are keyed "default".
        (string Type, string Key, string State)[] grains =
        [
            ("service", "default/web", "object"), ("endpoints", "default/web", "object"),
            ("pod-cidr-allocator", "default", "allocations"), ("service-ip-allocator", "default", "allocations"),
        ];
        foreach (var (type, key, state) in grains)
        {
            await db.Storage.WriteStateAsync(state, GrainId.Create(type, key), new GrainState<StateAfterRename> { State = new() { Name = type } });
        }

        foreach (var (type, key, state) in grains)
        {
            var read = new GrainState<StateAfterRename>();
            await db.Storage.ReadStateAsync(state, GrainId.Create(type, key), read);
            Assert.Equal(type, read.State!.Name);
        }
        Assert.Equal(4L, await db.ScalarAsync<long>("SELECT count(*) FROM orchestrator_grain_state"));
    }

    [Fact]
    public async Task KeysThatLookLikeNumbersStayDistinct()
    {
        await using var db = await PostgresStorageHarness.StartAsync(stores);
        // Orleans' ADO.NET provider on its own would read these as the integers 0x10 and 0xcafe
        // and as a GUID, so "10" and "010" would share a row.
        string[] names = ["10", "010", "cafe", "0cafe", "0123456789abcdef0123456789abcdef"];
        foreach (var name in names)
        {
            await db.Storage.WriteStateAsync("object", GrainId.Create("node", name), new GrainState<StateAfterRename> { State = new() { Name = name } });
        }

        foreach (var name in names)
        {
            var read = new GrainState<StateAfterRename>();
            await db.Storage.ReadStateAsync("object", GrainId.Create("node", name), read);
            Assert.Equal(name, read.State!.Name);
        }
    }

    [Fact]
    public async Task AStaleETagIsAConflictAndClearingDeletesTheRow()
    {
        await using var db = await PostgresStorageHarness.StartAsync(stores);
        var id = GrainId.Create("pod", "default/p1");
        var first = new GrainState<StateAfterRename> { State = new() { Name = "a" } };
        await db.Storage.WriteStateAsync("object", id, first);
        var stale = new GrainState<StateAfterRename> { State = new() { Name = "b" }, ETag = first.ETag };
        await db.Storage.WriteStateAsync("object", id, first);

        await Assert.ThrowsAsync<InconsistentStateException>(() => db.Storage.WriteStateAsync("object", id, stale));
        await Assert.ThrowsAsync<InconsistentStateException>(() => db.Storage.ClearStateAsync("object", id, stale));
        // A writer that thinks the state does not exist yet conflicts too.
        await Assert.ThrowsAsync<InconsistentStateException>(() =>
            db.Storage.WriteStateAsync("object", id, new GrainState<StateAfterRename> { State = new() { Name = "c" } }));

        var previousETags = new[] { first.ETag, stale.ETag };
        await db.Storage.ClearStateAsync("object", id, first);
        Assert.False(first.RecordExists);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM orchestrator_grain_state"));

        // Written again after the delete, the state does not reuse an ETag of its previous life.
        var again = new GrainState<StateAfterRename> { State = new() { Name = "d" } };
        await db.Storage.WriteStateAsync("object", id, again);
        Assert.DoesNotContain(again.ETag, previousETags);
    }

    [Fact]
    public async Task RemindersRoundTripInADatabaseThatIsNotOnUtc()
    {
        await using var db = await PostgresStorageHarness.StartAsync(stores);
        Assert.Equal("Pacific/Auckland", await db.ScalarAsync<string>("SHOW timezone"));
        var grain = GrainId.Create("deployment", "default/web");
        var startAt = new DateTime(2030, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc);
        var entry = new ReminderEntry { GrainId = grain, ReminderName = "reconcile", StartAt = startAt, Period = TimeSpan.FromSeconds(30) };

        var etag = await db.Reminders.UpsertRow(entry);
        var read = await db.Reminders.ReadRow(grain, "reconcile");

        Assert.NotNull(read);
        Assert.Equal(startAt, read.StartAt);
        Assert.Equal(DateTimeKind.Utc, read.StartAt.Kind);
        Assert.Equal(TimeSpan.FromSeconds(30), read.Period);
        Assert.Equal(etag, read.ETag);

        // Upsert replaces and moves the ETag on; a stale ETag does not remove.
        var etag2 = await db.Reminders.UpsertRow(new ReminderEntry { GrainId = grain, ReminderName = "reconcile", StartAt = startAt, Period = TimeSpan.FromDays(40) });
        Assert.NotEqual(etag, etag2);
        Assert.Equal(TimeSpan.FromDays(40), (await db.Reminders.ReadRow(grain, "reconcile"))!.Period);
        Assert.False(await db.Reminders.RemoveRow(grain, "reconcile", etag!));
        Assert.Single((await db.Reminders.ReadRows(grain)).Reminders);
        Assert.True(await db.Reminders.RemoveRow(grain, "reconcile", etag2!));
        Assert.Null(await db.Reminders.ReadRow(grain, "reconcile"));
    }

    [Fact]
    public async Task ReminderRangeReadsCoverTheRingExactlyOnce()
    {
        await using var db = await PostgresStorageHarness.StartAsync(stores);
        var grains = Enumerable.Range(0, 64).Select(i => GrainId.Create("pod", $"default/p{i}")).ToList();
        foreach (var g in grains)
        {
            await db.Reminders.UpsertRow(new ReminderEntry { GrainId = g, ReminderName = "r", StartAt = DateTime.UtcNow, Period = TimeSpan.FromMinutes(1) });
        }

        // Ring ranges are (begin, end]; split the ring at a few points, including one range that
        // wraps around and one that crosses from "negative" to "positive" hashes as int.
        uint[] points = [0x10000000, 0x70000000, 0x90000000, 0xF0000000];
        var seen = new List<GrainId>();
        for (var i = 0; i < points.Length; i++)
        {
            var begin = points[i];
            var end = points[(i + 1) % points.Length];
            var rows = await db.Reminders.ReadRows(begin, end);
            foreach (var r in rows.Reminders)
            {
                var hash = r.GrainId.GetUniformHashCode();
                Assert.True(begin < end ? hash > begin && hash <= end : hash > begin || hash <= end, $"{r.GrainId} ({hash:x8}) outside ({begin:x8}, {end:x8}]");
                seen.Add(r.GrainId);
            }
        }
        Assert.Equal(grains.Order(), seen.Order());
        Assert.Equal(grains.Count, (await db.Reminders.ReadRows(0x12345678, 0x12345678)).Reminders.Count);
    }

    /// <summary>Schema, migration records and registered queries, with the row versions
    /// (xmin) that change whenever a row is written again.</summary>
    private static async Task<string> SnapshotAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var text = new StringBuilder();
        foreach (var sql in new[]
        {
            "SELECT c.oid::text, c.relname, c.relkind::text, c.relfilenode::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY c.relname",
            "SELECT table_name, column_name, data_type, coalesce(collation_name, '') FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
            "SELECT xmin::text, version::text, name, sha256, applied_at::text FROM orchestrator_schema_migrations ORDER BY version",
            "SELECT xmin::text, querykey, md5(querytext) FROM orleansquery ORDER BY querykey",
        })
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    text.Append(reader.GetString(i)).Append('|');
                }
                text.Append('\n');
            }
            text.Append("--\n");
        }
        return text.ToString();
    }

    /// <summary>A state type as first shipped.</summary>
    public sealed class StateBeforeRename
    {
        public string Name { get; set; } = "";

        public int Replicas { get; set; }

        public Dictionary<string, string> Labels { get; set; } = [];
    }

    /// <summary>The same state after its class was renamed: same JSON fields, another .NET name.</summary>
    public sealed class StateAfterRename
    {
        public string Name { get; set; } = "";

        public int Replicas { get; set; }

        public Dictionary<string, string> Labels { get; set; } = [];
    }
}
