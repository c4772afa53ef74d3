using System.Diagnostics;
using Orleans;
using Orleans.Runtime;
using Xunit.Abstractions;

namespace Orchestrator.Tests.Storage;

/// <summary>Runs alone so that the rate it prints is not shared with other tests' work.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThroughputCollection
{
    public const string Name = "Storage throughput";
}

[Collection(ThroughputCollection.Name)]
public sealed class SqliteStorageThroughputTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int StateCount = 5_000;
    private const int WarmUpCount = 500;

    private StorageFixture _fixture = null!;

    public Task InitializeAsync()
    {
        _fixture = StorageFixture.Create();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => _fixture.DisposeAsync().AsTask();

    [Fact]
    public async Task ConcurrentWritesOfSmallStatesAllReadBack()
    {
        // About 2 KB of JSON per state, the size of a pod object with its status.
        var padding = new string('x', 2_000);
        var grainIds = Enumerable.Range(0, StateCount).Select(i => GrainId.Create("pod", $"ns-{i % 50}/pod-{i:D5}")).ToArray();
        var states = grainIds.Select((_, i) => new GrainState<TestState>(new TestState($"pod-{i:D5}", i, padding))).ToArray();

        // JIT and SQLite's page cache warm up on other keys first, so the rate reflects steady state.
        await Task.WhenAll(Enumerable.Range(0, WarmUpCount).Select(i => _fixture.Storage.WriteStateAsync(
            "state", GrainId.Create("pod", $"warm-up/pod-{i}"), new GrainState<TestState>(new TestState("warm-up", i, padding)))));
        var batchesBefore = _fixture.Database.CommittedBatchCount;

        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(grainIds.Select((grainId, i) => Task.Run(() => _fixture.Storage.WriteStateAsync("state", grainId, states[i]))));
        var writeElapsed = stopwatch.Elapsed;

        stopwatch.Restart();
        var reads = await Task.WhenAll(grainIds.Select(grainId => Task.Run(async () =>
        {
            var state = new GrainState<TestState>(new TestState("default", -1));
            await _fixture.Storage.ReadStateAsync("state", grainId, state);
            return state;
        })));
        var readElapsed = stopwatch.Elapsed;

        for (var i = 0; i < StateCount; i++)
        {
            Assert.True(reads[i].RecordExists);
            Assert.Equal(states[i].State, reads[i].State);
            Assert.Equal(states[i].ETag, reads[i].ETag);
        }

        output.WriteLine(
            $"{StateCount} concurrent writes of ~2 KB in {writeElapsed.TotalMilliseconds:F0} ms: {StateCount / writeElapsed.TotalSeconds:F0} writes/s "
            + $"in {_fixture.Database.CommittedBatchCount - batchesBefore} batches");
        output.WriteLine(
            $"{StateCount} concurrent reads in {readElapsed.TotalMilliseconds:F0} ms: {StateCount / readElapsed.TotalSeconds:F0} reads/s");
    }
}
