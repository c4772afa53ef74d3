using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains;
using Orchestrator.Grains.Storage;
using Orchestrator.Grains.Storage.Postgres;
using Orchestrator.Grains.Store;
using Orchestrator.Tests.Cluster;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Storage;

/// <summary>
/// What every object store promises the caches that follow it: per-kind versions that are
/// gapless and committed in order, a failed write that leaves no trace (no object, no change,
/// no version), the feed of changes in order until compaction, and one consistent listing.
/// Run against both stores.
/// </summary>
public abstract class ObjectStoreContractTests : IAsyncLifetime
{
    /// <summary>The stores under test keep 100 changes per kind.</summary>
    protected const int Retain = 100;

    private IObjectStore _store = null!;

    protected IObjectStore Store => _store;

    protected abstract Task<IObjectStore> OpenAsync();

    public async Task InitializeAsync() => _store = await OpenAsync();

    public virtual async Task DisposeAsync()
    {
        if (_store is IAsyncDisposable d)
        {
            await d.DisposeAsync();
        }
    }

    protected static IOptions<ControlPlaneOptions> Options => Microsoft.Extensions.Options.Options.Create(new ControlPlaneOptions { WatchLogCapacity = Retain });

    private static byte[] Json(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public async Task ConcurrentWritesOfAKindGetGaplessVersionsAndTheFeedHasThemAll()
    {
        var kind = Kind();
        var versions = new ConcurrentBag<long>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 60), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
            versions.Add(await Store.PutAsync(kind, $"ns/o{i}", 0, WatchEventType.Added, Json($"{{\"i\":{i}}}"), null)));

        Assert.Equal(Enumerable.Range(1, 60).Select(v => (long)v), versions.Order());
        Assert.Equal(60, await Store.CurrentVersionAsync(kind));
        var changes = await Store.ChangesAsync(kind, 0, 1000);
        Assert.NotNull(changes);
        Assert.Equal(Enumerable.Range(1, 60).Select(v => (long)v), changes.Select(c => c.Version));
        // Another kind counts on its own.
        Assert.Equal(1, await Store.PutAsync(Kind(), "ns/x", 0, WatchEventType.Added, Json("{}"), null));
    }

    [Fact]
    public async Task AWriteWithAStaleVersionConflictsAndLeavesNoTrace()
    {
        var kind = Kind();
        var v1 = await Store.PutAsync(kind, "ns/a", 0, WatchEventType.Added, Json("{\"n\":1}"), null);
        var v2 = await Store.PutAsync(kind, "ns/a", v1, WatchEventType.Modified, Json("{\"n\":2}"), null);

        var stale = await Assert.ThrowsAsync<StoreConflictException>(() => Store.PutAsync(kind, "ns/a", v1, WatchEventType.Modified, Json("{\"n\":3}"), null));
        Assert.Equal(v2, stale.Actual);
        var exists = await Assert.ThrowsAsync<StoreConflictException>(() => Store.PutAsync(kind, "ns/a", 0, WatchEventType.Added, Json("{\"n\":4}"), null));
        Assert.Equal(v2, exists.Actual);
        var missing = await Assert.ThrowsAsync<StoreConflictException>(() => Store.RemoveAsync(kind, "ns/none", 5, Json("{}"), null));
        Assert.Equal(0, missing.Actual);

        // Nothing of the three failed writes: the object, the version and the feed are as before.
        var stored = await Store.GetAsync(kind, "ns/a");
        Assert.Equal(v2, stored!.Version);
        Assert.Equal("{\"n\":2}", Encoding.UTF8.GetString(stored.Payload));
        Assert.Equal(v2, await Store.CurrentVersionAsync(kind));
        Assert.Equal([v1, v2], (await Store.ChangesAsync(kind, 0, 100))!.Select(c => c.Version));
        Assert.Equal(v2 + 1, await Store.PutAsync(kind, "ns/b", 0, WatchEventType.Added, Json("{}"), null));
    }

    [Fact]
    public async Task ARemovalIsAChangeCarryingTheLastObject()
    {
        var kind = Kind();
        var v1 = await Store.PutAsync(kind, "ns/a", 0, WatchEventType.Added, Json("{\"n\":1}"), null);
        var v2 = await Store.RemoveAsync(kind, "ns/a", v1, Json("{\"n\":1}"), null);

        Assert.Null(await Store.GetAsync(kind, "ns/a"));
        var last = (await Store.ChangesAsync(kind, v1, 10))!.Single();
        Assert.Equal((v2, WatchEventType.Deleted, "ns/a", "{\"n\":1}"), (last.Version, last.Type, last.Key, Encoding.UTF8.GetString(last.Payload)));
        // The same name again is a new object.
        Assert.Equal(v2 + 1, await Store.PutAsync(kind, "ns/a", 0, WatchEventType.Added, Json("{\"n\":2}"), null));
    }

    [Fact]
    public async Task AListingIsOneSnapshotWithItsVersion()
    {
        var kind = Kind();
        for (var i = 0; i < 5; i++)
        {
            await Store.PutAsync(kind, $"ns/o{i}", 0, WatchEventType.Added, Json("{}"), null);
        }
        var list = await Store.ListAsync(kind);
        Assert.Equal(5, list.Version);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"ns/o{i}"), list.Items.Select(o => o.Key).Order(StringComparer.Ordinal));
        Assert.All(list.Items, o => Assert.InRange(o.Version, 1, 5));
        Assert.Empty((await Store.ListAsync(Kind())).Items);
    }

    [Fact]
    public async Task TheFeedKeepsTheLastChangesAndSaysWhenItNoLongerReachesBack()
    {
        var kind = Kind();
        var version = await Store.PutAsync(kind, "ns/a", 0, WatchEventType.Added, Json("{}"), null);
        for (var i = 0; i < Retain * 2; i++)
        {
            version = await Store.PutAsync(kind, "ns/a", version, WatchEventType.Modified, Json($"{{\"i\":{i}}}"), null);
        }

        Assert.Null(await Store.ChangesAsync(kind, 0, 10));
        var recent = await Store.ChangesAsync(kind, version - Retain, 1000);
        Assert.NotNull(recent);
        Assert.Equal(Enumerable.Range(1, Retain).Select(i => version - Retain + i), recent.Select(c => c.Version));
    }

    [Fact]
    public async Task FollowersHearOfEveryCommitInOrder()
    {
        var kind = Kind();
        var heard = new ConcurrentQueue<long>();
        void OnCommitted(CommitNotice n)
        {
            if (n.Kind == kind && n.Changes is { } changes)
            {
                foreach (var c in changes)
                {
                    heard.Enqueue(c.Version);
                }
            }
        }
        Store.Committed += OnCommitted;
        try
        {
            var version = 0L;
            for (var i = 0; i < 20; i++)
            {
                version = await Store.PutAsync(kind, "ns/a", version, i == 0 ? WatchEventType.Added : WatchEventType.Modified, Json("{}"), i);
            }
            await Eventually.True(() => Task.FromResult(heard.Count == 20), "every commit to be announced");
            Assert.Equal(Enumerable.Range(1, 20).Select(v => (long)v), heard.Order());
        }
        finally
        {
            Store.Committed -= OnCommitted;
        }
    }

    private static string Kind() => $"things{Guid.NewGuid():N}"[..14];
}

public sealed class SqliteObjectStoreTests : ObjectStoreContractTests
{
    private readonly TempDirectory _directory = new();
    private SqliteDatabase? _database;

    protected override Task<IObjectStore> OpenAsync()
    {
        _database = StorageFixture.OpenDatabase(_directory.Path);
        return Task.FromResult<IObjectStore>(new SqliteObjectStore(_database, Options, NullLogger<SqliteObjectStore>.Instance));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
        _directory.Dispose();
    }

    [Fact]
    public async Task ObjectsStoredAsGrainStateByEarlierBuildsMoveIntoTheStore()
    {
        // A database as schema version 1 left it, with a deployment stored as grain state.
        using var old = new TempDirectory();
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(old.Path, SqliteStorageOptions.DatabaseFileName)}"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                CREATE TABLE grain_state (grain_type TEXT NOT NULL, grain_key TEXT NOT NULL, state_name TEXT NOT NULL, version INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (grain_type, grain_key, state_name)) STRICT;
                CREATE TABLE reminders (grain_id TEXT NOT NULL, reminder_name TEXT NOT NULL, grain_hash INTEGER NOT NULL, start_at INTEGER NOT NULL, period INTEGER NOT NULL, etag TEXT NOT NULL, PRIMARY KEY (grain_id, reminder_name)) STRICT, WITHOUT ROWID;
                CREATE TABLE sequences (name TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL) STRICT, WITHOUT ROWID;
                INSERT INTO sequences VALUES ('version', 3);
                INSERT INTO grain_state VALUES ('deployment', 'default/web', 'object', 1, CAST('{"object":{"metadata":{"name":"web","namespace":"default","resourceVersion":"7"},"spec":{"replicas":2}}}' AS BLOB));
                INSERT INTO grain_state VALUES ('deployment-index', 'deployments', 'index', 2, CAST('{"reservedUpTo":10007}' AS BLOB));
                INSERT INTO grain_state VALUES ('allocator', 'default', 'allocations', 3, CAST('{}' AS BLOB));
                PRAGMA user_version = 1;
                """;
            await command.ExecuteNonQueryAsync();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        await using var database = StorageFixture.OpenDatabase(old.Path);
        var store = new SqliteObjectStore(database, Options, NullLogger<SqliteObjectStore>.Instance);
        var moved = await store.GetAsync("deployments.apps", "default/web");
        Assert.Equal(7, moved!.Version);
        Assert.Contains("\"replicas\":2", Encoding.UTF8.GetString(moved.Payload), StringComparison.Ordinal);
        Assert.Equal(7, await store.CurrentVersionAsync("deployments.apps"));
        // The next write continues the version, and the allocator's grain state stays where it was.
        Assert.Equal(8, await store.PutAsync("deployments.apps", "default/web", 7, WatchEventType.Modified, Json("{}"), null));
        await using var read = await database.OpenReadConnectionAsync();
        await using var count = read.CreateCommand();
        count.CommandText = "SELECT count(*) FROM grain_state;";
        Assert.Equal(1L, await count.ExecuteScalarAsync());
        await store.DisposeAsync();
    }

    private static byte[] Json(string text) => Encoding.UTF8.GetBytes(text);
}

[Collection(ClusterCollection.Name)]
public sealed class PostgresObjectStoreTests(ClusterStoresFixture stores) : ObjectStoreContractTests
{
    private NpgsqlDataSource? _dataSource;

    protected override async Task<IObjectStore> OpenAsync()
    {
        var connectionString = await stores.Postgres.CreateDatabaseAsync($"o{Guid.NewGuid():N}"[..16]);
        _dataSource = NpgsqlDataSource.Create(connectionString);
        await new PostgresMigrator(_dataSource, NullLogger<PostgresMigrator>.Instance).MigrateAsync();
        return new PostgresObjectStore(_dataSource, Options, NullLogger<PostgresObjectStore>.Instance);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }
    }

    [Fact]
    public async Task AnotherSilosStoreHearsOfCommitsThroughTheDatabase()
    {
        // A second store on the same database stands for another silo: it hears of the first's
        // writes by NOTIFY (or its poll) and finds them in the feed.
        await using var other = new PostgresObjectStore(_dataSource!, Options, NullLogger<PostgresObjectStore>.Instance);
        var kind = $"remote{Guid.NewGuid():N}"[..14];
        var heard = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        other.Committed += n =>
        {
            if (n.Kind == kind && n.Changes is null && n.Version >= 2)
            {
                heard.TrySetResult(n.Version);
            }
        };
        var v1 = await Store.PutAsync(kind, "ns/a", 0, WatchEventType.Added, Encoding.UTF8.GetBytes("{}"), null);
        await Store.PutAsync(kind, "ns/a", v1, WatchEventType.Modified, Encoding.UTF8.GetBytes("{\"n\":2}"), null);

        Assert.Equal(2, await heard.Task.WaitAsync(Eventually.DefaultTimeout));
        var feed = await other.ChangesAsync(kind, 0, 10);
        Assert.Equal([1L, 2L], feed!.Select(c => c.Version));
    }
}
