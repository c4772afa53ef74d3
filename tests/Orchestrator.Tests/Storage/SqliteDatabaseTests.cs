using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Orchestrator.Grains.Storage;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;

namespace Orchestrator.Tests.Storage;

public sealed class SqliteDatabaseTests : IDisposable
{
    private static readonly GrainId Pod = GrainId.Create("pod", "default/nginx");
    private static readonly TimeSpan GateTimeout = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task OpensInWalModeWithTheSchemaVersion()
    {
        await using (var database = StorageFixture.OpenDatabase(_directory.Path))
        {
            Assert.Equal(Path.Combine(_directory.Path, "orchestrator.db"), database.DatabasePath);
        }

        using var connection = OpenRaw();
        Assert.Equal("wal", Scalar(connection, "PRAGMA journal_mode;"));
        Assert.Equal((long)SqliteDatabase.SchemaVersion, Scalar(connection, "PRAGMA user_version;"));
    }

    [Fact]
    public async Task CreatesTheDataDirectory()
    {
        var nested = Path.Combine(_directory.Path, "a", "b");

        await using var database = StorageFixture.OpenDatabase(nested);

        Assert.True(File.Exists(Path.Combine(nested, SqliteStorageOptions.DatabaseFileName)));
    }

    [Fact]
    public async Task ReopeningAnExistingDatabaseKeepsItsData()
    {
        string? eTag;
        await using (var first = StorageFixture.OpenDatabase(_directory.Path))
        {
            var state = new GrainState<TestState>(new TestState("nginx", 3));
            await StorageFixture.CreateStorage(first).WriteStateAsync("state", Pod, state);
            eTag = state.ETag;
            await new SqliteReminderTable(first, Microsoft.Extensions.Logging.Abstractions.NullLogger<SqliteReminderTable>.Instance)
                .UpsertRow(new ReminderEntry { GrainId = Pod, ReminderName = "reconcile", Period = TimeSpan.FromMinutes(1) });
        }

        await using var second = StorageFixture.OpenDatabase(_directory.Path);
        var read = new GrainState<TestState>(new TestState("default", 0));
        await StorageFixture.CreateStorage(second).ReadStateAsync("state", Pod, read);

        Assert.Equal(new TestState("nginx", 3), read.State);
        Assert.Equal(eTag, read.ETag);
        var reminders = new SqliteReminderTable(second, Microsoft.Extensions.Logging.Abstractions.NullLogger<SqliteReminderTable>.Instance);
        Assert.NotNull(await reminders.ReadRow(Pod, "reconcile"));
    }

    [Fact]
    public async Task AnAcknowledgedWriteIsVisibleToAnotherDatabaseOnTheSameFileBeforeAnyClose()
    {
        // Stands in for kill -9: the first instance is never disposed (no checkpoint, no close)
        // while a second one opens the file and reads.
        var first = StorageFixture.OpenDatabase(_directory.Path);
        try
        {
            var state = new GrainState<TestState>(new TestState("nginx", 3));
            await StorageFixture.CreateStorage(first).WriteStateAsync("state", Pod, state);

            await using var second = StorageFixture.OpenDatabase(_directory.Path);
            var read = new GrainState<TestState>(new TestState("default", 0));
            await StorageFixture.CreateStorage(second).ReadStateAsync("state", Pod, read);

            Assert.True(read.RecordExists);
            Assert.Equal(new TestState("nginx", 3), read.State);
            Assert.Equal(state.ETag, read.ETag);
        }
        finally
        {
            await first.DisposeAsync();
        }
    }

    [Fact]
    public async Task AConflictInABatchFailsOnlyThatWrite()
    {
        await using var database = StorageFixture.OpenDatabase(_directory.Path);
        var storage = StorageFixture.CreateStorage(database);
        var existing = GrainId.Create("pod", "default/existing");
        await storage.WriteStateAsync("state", existing, new GrainState<TestState>(new TestState("existing", 1)));

        var (release, blocker) = await BlockWriterAsync(database);
        var batchesBefore = database.CommittedBatchCount;
        var before = storage.WriteStateAsync("state", GrainId.Create("pod", "default/a"), new GrainState<TestState>(new TestState("a", 1)));
        var conflicting = storage.WriteStateAsync("state", existing, new GrainState<TestState>(new TestState("stale", 2)));
        var after = storage.WriteStateAsync("state", GrainId.Create("pod", "default/b"), new GrainState<TestState>(new TestState("b", 1)));
        release.Set();
        await blocker;

        await before;
        await after;
        await Assert.ThrowsAsync<InconsistentStateException>(() => conflicting);
        // The blocker's batch, then one batch holding all three writes.
        Assert.Equal(batchesBefore + 2, database.CommittedBatchCount);
        Assert.Equal(["a", "b", "existing"], await ReadNamesAsync(database));
    }

    [Fact]
    public async Task AFailedWriteRollsBackOnlyItsOwnChanges()
    {
        await using var database = StorageFixture.OpenDatabase(_directory.Path);
        var (release, blocker) = await BlockWriterAsync(database);
        var failing = database.WriteAsync<int>(context =>
        {
            Insert(context, "failing");
            throw new InvalidOperationException("boom");
        });
        var succeeding = database.WriteAsync(context => Insert(context, "succeeding"));
        release.Set();
        await blocker;

        var exception = await Assert.ThrowsAsync<InvalidOperationException>(() => failing);
        Assert.Equal("boom", exception.Message);
        Assert.Equal(1, await succeeding);
        Assert.Equal(["succeeding"], await ReadKeysAsync(database));
    }

    [Fact]
    public async Task AWriteCancelledWhileQueuedIsSkipped()
    {
        await using var database = StorageFixture.OpenDatabase(_directory.Path);
        using var cancellation = new CancellationTokenSource();
        var (release, blocker) = await BlockWriterAsync(database);
        var cancelled = database.WriteAsync(context => Insert(context, "cancelled"), cancellation.Token);
        await cancellation.CancelAsync();
        release.Set();
        await blocker;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Empty(await ReadKeysAsync(database));
    }

    [Fact]
    public async Task DisposeCommitsWritesStillQueued()
    {
        Task<int>[] writes;
        await using (var database = StorageFixture.OpenDatabase(_directory.Path))
        {
            var (release, blocker) = await BlockWriterAsync(database);
            writes = Enumerable.Range(0, 10).Select(i => database.WriteAsync(context => Insert(context, $"key-{i}"))).ToArray();
            release.Set();
            await blocker;
        }

        Assert.All(writes, w => Assert.True(w.IsCompletedSuccessfully));
        await using var reopened = StorageFixture.OpenDatabase(_directory.Path);
        Assert.Equal(10, (await ReadKeysAsync(reopened)).Count);
    }

    [Fact]
    public async Task WritesAfterDisposeFail()
    {
        var database = StorageFixture.OpenDatabase(_directory.Path);
        await database.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => database.WriteAsync(context => Insert(context, "late")));
    }

    [Fact]
    public async Task RefusesADatabaseWithANewerSchema()
    {
        await StorageFixture.OpenDatabase(_directory.Path).DisposeAsync();
        using (var connection = OpenRaw())
        {
            Scalar(connection, $"PRAGMA user_version = {SqliteDatabase.SchemaVersion + 1};");
        }

        var exception = Assert.Throws<InvalidOperationException>(() => StorageFixture.OpenDatabase(_directory.Path));

        Assert.Contains(nameof(SqliteStorageOptions.DataDirectory), exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefusesInvalidOptions()
    {
        var options = Options.Create(new SqliteStorageOptions { DataDirectory = " " });

        var exception = Assert.Throws<OptionsValidationException>(
            () => new SqliteDatabase(options, Microsoft.Extensions.Logging.Abstractions.NullLogger<SqliteDatabase>.Instance));

        Assert.Contains("DataDirectory", exception.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Occupies the writer thread until the returned event is set, so that everything queued
    /// meanwhile is taken as one batch.
    /// </summary>
    private static async Task<(ManualResetEventSlim Release, Task Blocker)> BlockWriterAsync(SqliteDatabase database)
    {
        var release = new ManualResetEventSlim();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = database.WriteAsync(_ =>
        {
            started.SetResult();
            return release.Wait(GateTimeout);
        });
        await started.Task;
        return (release, blocker);
    }

    private static int Insert(SqliteWriteContext context, string key)
    {
        var command = context.Command(
            "INSERT INTO grain_state (grain_type, grain_key, state_name, version, payload) VALUES ('raw', $key, 'state', $version, x'00');");
        command.Parameters.AddWithValue("$key", key);
        command.Parameters.AddWithValue("$version", context.NextVersion());
        return command.ExecuteNonQuery();
    }

    private static async Task<List<string>> ReadKeysAsync(SqliteDatabase database)
    {
        var keys = new List<string>();
        await using var connection = await database.OpenReadConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT grain_key FROM grain_state WHERE grain_type = 'raw' AND state_name = 'state' ORDER BY grain_key;";
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            keys.Add(reader.GetString(0));
        }

        return keys;
    }

    private static async Task<List<string>> ReadNamesAsync(SqliteDatabase database)
    {
        var names = new List<string>();
        await using var connection = await database.OpenReadConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT payload FROM grain_state WHERE grain_type = 'pod' AND state_name = 'state' ORDER BY grain_key;";
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            names.Add(StorageFixture.Serializer.Deserialize<TestState>(new BinaryData((byte[])reader.GetValue(0)))!.Name);
        }

        return names;
    }

    private SqliteConnection OpenRaw()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(_directory.Path, SqliteStorageOptions.DatabaseFileName),
            Pooling = false,
        }.ToString());
        connection.Open();
        return connection;
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private sealed class RawPayloadSerializer : IGrainStorageSerializer
    {
        public BinaryData Serialize<T>(T? input) => throw new NotSupportedException();

        public T? Deserialize<T>(BinaryData input) => default;
    }
}
