using Orchestrator.Grains.Storage;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;

namespace Orchestrator.Tests.Storage;

public sealed class SqliteGrainStorageTests : IAsyncLifetime
{
    private const string StateName = "state";
    private static readonly GrainId Pod = GrainId.Create("pod", "default/nginx");

    private StorageFixture _fixture = null!;

    public Task InitializeAsync()
    {
        _fixture = StorageFixture.Create();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => _fixture.DisposeAsync().AsTask();

    private SqliteGrainStorage Storage => _fixture.Storage;

    [Fact]
    public async Task ReadOfMissingRowLeavesDefaultStateAndNoETag()
    {
        var initial = new TestState("default", 0);
        var state = new GrainState<TestState>(initial);

        await Storage.ReadStateAsync(StateName, Pod, state);

        Assert.Same(initial, state.State);
        Assert.Null(state.ETag);
        Assert.False(state.RecordExists);
    }

    [Fact]
    public async Task WriteThenReadRoundTrips()
    {
        var written = new GrainState<TestState>(new TestState("nginx", 3));

        await Storage.WriteStateAsync(StateName, Pod, written);

        Assert.NotNull(written.ETag);
        Assert.True(written.RecordExists);

        var read = new GrainState<TestState>(new TestState("default", 0));
        await Storage.ReadStateAsync(StateName, Pod, read);

        Assert.Equal(new TestState("nginx", 3), read.State);
        Assert.Equal(written.ETag, read.ETag);
        Assert.True(read.RecordExists);
    }

    [Fact]
    public async Task EveryWriteGetsANewETag()
    {
        var state = new GrainState<TestState>(new TestState("nginx", 1));
        await Storage.WriteStateAsync(StateName, Pod, state);
        var first = state.ETag;

        state.State = new TestState("nginx", 2);
        await Storage.WriteStateAsync(StateName, Pod, state);

        Assert.NotEqual(first, state.ETag);
    }

    [Fact]
    public async Task WriteWithStaleETagThrowsInconsistentStateException()
    {
        var first = new GrainState<TestState>(new TestState("nginx", 1));
        await Storage.WriteStateAsync(StateName, Pod, first);
        var stale = new GrainState<TestState>(new TestState("nginx", 5)) { ETag = first.ETag, RecordExists = true };
        await Storage.WriteStateAsync(StateName, Pod, first);

        var conflict = await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync(StateName, Pod, stale));

        Assert.Equal(first.ETag, conflict.StoredEtag);
        Assert.Equal(stale.ETag, conflict.CurrentEtag);
        var read = new GrainState<TestState>(new TestState("default", 0));
        await Storage.ReadStateAsync(StateName, Pod, read);
        Assert.Equal(new TestState("nginx", 1), read.State);
    }

    [Fact]
    public async Task WriteWithoutETagConflictsWithAnExistingRow()
    {
        var existing = new GrainState<TestState>(new TestState("nginx", 1));
        await Storage.WriteStateAsync(StateName, Pod, existing);

        var conflict = await Assert.ThrowsAsync<InconsistentStateException>(
            () => Storage.WriteStateAsync(StateName, Pod, new GrainState<TestState>(new TestState("other", 9))));

        Assert.Equal(existing.ETag, conflict.StoredEtag);
        Assert.Null(conflict.CurrentEtag);
    }

    [Fact]
    public async Task WriteWithAnETagConflictsWhenTheRowIsGone()
    {
        var state = new GrainState<TestState>(new TestState("nginx", 1)) { ETag = "42", RecordExists = true };

        var conflict = await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync(StateName, Pod, state));

        Assert.Null(conflict.StoredEtag);
        Assert.Equal("42", conflict.CurrentEtag);
    }

    [Fact]
    public async Task ClearDeletesTheRowAndResetsETag()
    {
        var state = new GrainState<TestState>(new TestState("nginx", 1));
        await Storage.WriteStateAsync(StateName, Pod, state);

        await Storage.ClearStateAsync(StateName, Pod, state);

        Assert.Null(state.ETag);
        Assert.False(state.RecordExists);
        var read = new GrainState<TestState>(new TestState("default", 0));
        await Storage.ReadStateAsync(StateName, Pod, read);
        Assert.False(read.RecordExists);
        Assert.Null(read.ETag);
        Assert.Equal(new TestState("default", 0), read.State);
    }

    [Fact]
    public async Task ClearWithStaleETagThrowsAndKeepsTheRow()
    {
        var state = new GrainState<TestState>(new TestState("nginx", 1));
        await Storage.WriteStateAsync(StateName, Pod, state);
        var stale = new GrainState<TestState>(state.State) { ETag = state.ETag, RecordExists = true };
        await Storage.WriteStateAsync(StateName, Pod, state);

        var conflict = await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.ClearStateAsync(StateName, Pod, stale));

        Assert.Equal(state.ETag, conflict.StoredEtag);
        var read = new GrainState<TestState>(new TestState("default", 0));
        await Storage.ReadStateAsync(StateName, Pod, read);
        Assert.True(read.RecordExists);
    }

    [Fact]
    public async Task ClearOfMissingRowWithoutETagSucceeds()
    {
        var state = new GrainState<TestState>(new TestState("nginx", 1));

        await Storage.ClearStateAsync(StateName, Pod, state);

        Assert.Null(state.ETag);
        Assert.False(state.RecordExists);
    }

    [Fact]
    public async Task AnETagFromBeforeAClearNeverMatchesTheRecreatedRow()
    {
        // A stale activation keeps the ETag it last wrote; after a clear and a recreate that went
        // through as many writes, the versions must still differ.
        var stale = new GrainState<TestState>(new TestState("nginx", 1));
        await Storage.WriteStateAsync(StateName, Pod, stale);
        var current = new GrainState<TestState>(stale.State) { ETag = stale.ETag, RecordExists = true };
        await Storage.ClearStateAsync(StateName, Pod, current);
        await Storage.WriteStateAsync(StateName, Pod, current);

        Assert.NotEqual(stale.ETag, current.ETag);
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync(StateName, Pod, stale));
    }

    [Fact]
    public async Task RowsAreKeyedByGrainTypeGrainKeyAndStateName()
    {
        var node = GrainId.Create("node", "default/nginx");
        var other = GrainId.Create("pod", "default/redis");
        await Storage.WriteStateAsync(StateName, Pod, new GrainState<TestState>(new TestState("pod", 1)));
        await Storage.WriteStateAsync("status", Pod, new GrainState<TestState>(new TestState("pod-status", 2)));
        await Storage.WriteStateAsync(StateName, node, new GrainState<TestState>(new TestState("node", 3)));
        await Storage.WriteStateAsync(StateName, other, new GrainState<TestState>(new TestState("redis", 4)));

        Assert.Equal("pod", (await ReadAsync(StateName, Pod)).Name);
        Assert.Equal("pod-status", (await ReadAsync("status", Pod)).Name);
        Assert.Equal("node", (await ReadAsync(StateName, node)).Name);
        Assert.Equal("redis", (await ReadAsync(StateName, other)).Name);
    }

    [Fact]
    public async Task CancelledTokenFailsTheWriteWithoutWriting()
    {
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => Storage.WriteStateAsync(StateName, Pod, new GrainState<TestState>(new TestState("nginx", 1)), cancellation.Token));

        var read = new GrainState<TestState>(new TestState("default", 0));
        await Storage.ReadStateAsync(StateName, Pod, read);
        Assert.False(read.RecordExists);
    }

    private async Task<TestState> ReadAsync(string stateName, GrainId grainId)
    {
        var state = new GrainState<TestState>(new TestState("default", 0));
        await Storage.ReadStateAsync(stateName, grainId, state);
        Assert.True(state.RecordExists);
        return state.State!;
    }
}
