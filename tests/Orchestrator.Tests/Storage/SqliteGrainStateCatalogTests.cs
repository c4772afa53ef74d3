using Orleans;
using Orleans.Runtime;

namespace Orchestrator.Tests.Storage;

public sealed class SqliteGrainStateCatalogTests : IAsyncLifetime
{
    private StorageFixture _fixture = null!;

    public Task InitializeAsync()
    {
        _fixture = StorageFixture.Create();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => _fixture.DisposeAsync().AsTask();

    [Fact]
    public async Task EnumeratesEveryStateOfOneGrainTypeAndStateName()
    {
        await WriteAsync("pod", "default/a", "state", new TestState("a", 1));
        await WriteAsync("pod", "default/b", "state", new TestState("b", 2));
        await WriteAsync("pod", "default/a", "status", new TestState("a-status", 3));
        await WriteAsync("node", "worker-1", "state", new TestState("worker-1", 4));

        var pods = await ReadAllAsync("pod", "state");

        Assert.Equal(
            [("default/a", new TestState("a", 1)), ("default/b", new TestState("b", 2))],
            pods);
    }

    [Fact]
    public async Task EnumeratesPastOnePage()
    {
        const int count = 600;
        await Task.WhenAll(Enumerable.Range(0, count).Select(i => WriteAsync("pod", $"ns/pod-{i:D4}", "state", new TestState($"pod-{i:D4}", i))));

        var pods = await ReadAllAsync("pod", "state");

        Assert.Equal(count, pods.Count);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"ns/pod-{i:D4}"), pods.Select(p => p.GrainKey));
        Assert.All(pods, p => Assert.Equal(p.GrainKey, $"ns/{p.State!.Name}"));
    }

    [Fact]
    public async Task UnknownGrainTypeEnumeratesNothing()
    {
        await WriteAsync("pod", "default/a", "state", new TestState("a", 1));

        Assert.Empty(await ReadAllAsync("service", "state"));
    }

    [Fact]
    public async Task ClearedStatesAreNotEnumerated()
    {
        var grainId = GrainId.Create("pod", "default/a");
        var state = new GrainState<TestState>(new TestState("a", 1));
        await _fixture.Storage.WriteStateAsync("state", grainId, state);
        await _fixture.Storage.ClearStateAsync("state", grainId, state);

        Assert.Empty(await ReadAllAsync("pod", "state"));
    }

    private Task WriteAsync(string grainType, string key, string stateName, TestState state)
        => _fixture.Storage.WriteStateAsync(stateName, GrainId.Create(grainType, key), new GrainState<TestState>(state));

    private async Task<List<(string GrainKey, TestState? State)>> ReadAllAsync(string grainType, string stateName)
    {
        var result = new List<(string GrainKey, TestState? State)>();
        await foreach (var item in _fixture.Catalog.ReadAllAsync<TestState>(grainType, stateName))
        {
            result.Add(item);
        }

        return result;
    }
}
