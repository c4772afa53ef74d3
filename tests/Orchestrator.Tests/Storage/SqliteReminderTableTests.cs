using Orleans;
using Orleans.Runtime;

namespace Orchestrator.Tests.Storage;

public sealed class SqliteReminderTableTests : IAsyncLifetime
{
    private static readonly GrainId Deployment = GrainId.Create("deployment", "default/web");

    private StorageFixture _fixture = null!;

    public Task InitializeAsync()
    {
        _fixture = StorageFixture.Create();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => _fixture.DisposeAsync().AsTask();

    private IReminderTable Table => _fixture.Reminders;

    [Fact]
    public async Task UpsertThenReadRowRoundTripsEveryField()
    {
        var startAt = new DateTime(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddTicks(6);
        var eTag = await Table.UpsertRow(Entry(Deployment, "reconcile", startAt, TimeSpan.FromMinutes(1)));

        var row = await Table.ReadRow(Deployment, "reconcile");

        Assert.NotNull(row);
        Assert.Equal(Deployment, row.GrainId);
        Assert.Equal("reconcile", row.ReminderName);
        Assert.Equal(startAt, row.StartAt);
        Assert.Equal(DateTimeKind.Utc, row.StartAt.Kind);
        Assert.Equal(TimeSpan.FromMinutes(1), row.Period);
        Assert.Equal(eTag, row.ETag);
    }

    [Fact]
    public async Task ReadRowOfUnknownReminderReturnsNull()
    {
        await Table.UpsertRow(Entry(Deployment, "reconcile"));

        Assert.Null(await Table.ReadRow(Deployment, "other"));
        Assert.Null(await Table.ReadRow(GrainId.Create("deployment", "default/other"), "reconcile"));
    }

    [Fact]
    public async Task EveryUpsertChangesTheETag()
    {
        var first = await Table.UpsertRow(Entry(Deployment, "reconcile", period: TimeSpan.FromMinutes(1)));
        var second = await Table.UpsertRow(Entry(Deployment, "reconcile", period: TimeSpan.FromMinutes(2)));

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.NotEqual(first, second);
        var row = await Table.ReadRow(Deployment, "reconcile");
        Assert.Equal(second, row!.ETag);
        Assert.Equal(TimeSpan.FromMinutes(2), row.Period);
    }

    [Fact]
    public async Task RemoveRowOnlyRemovesWithTheCurrentETag()
    {
        var stale = await Table.UpsertRow(Entry(Deployment, "reconcile"));
        var current = await Table.UpsertRow(Entry(Deployment, "reconcile"));

        Assert.False(await Table.RemoveRow(Deployment, "reconcile", stale!));
        Assert.NotNull(await Table.ReadRow(Deployment, "reconcile"));

        Assert.True(await Table.RemoveRow(Deployment, "reconcile", current!));
        Assert.Null(await Table.ReadRow(Deployment, "reconcile"));
        Assert.False(await Table.RemoveRow(Deployment, "reconcile", current!));
    }

    [Fact]
    public async Task ReadRowsByGrainReturnsOnlyThatGrainsReminders()
    {
        var other = GrainId.Create("deployment", "default/api");
        await Table.UpsertRow(Entry(Deployment, "reconcile"));
        await Table.UpsertRow(Entry(Deployment, "gc"));
        await Table.UpsertRow(Entry(other, "reconcile"));

        var rows = await Table.ReadRows(Deployment);

        Assert.Equal(["gc", "reconcile"], rows.Reminders.Select(r => r.ReminderName).Order());
        Assert.All(rows.Reminders, r => Assert.Equal(Deployment, r.GrainId));
    }

    [Fact]
    public async Task ReadRowsByRangeExcludesBeginAndIncludesEnd()
    {
        var grains = await UpsertGrainsSortedByHashAsync(4);
        var hashes = grains.Select(g => g.GetUniformHashCode()).ToArray();

        var rows = await Table.ReadRows(hashes[0], hashes[2]);

        Assert.Equal([grains[1], grains[2]], GrainIds(rows));
    }

    [Fact]
    public async Task ReadRowsWrapsAroundWhenBeginIsAfterEnd()
    {
        var grains = await UpsertGrainsSortedByHashAsync(4);
        var hashes = grains.Select(g => g.GetUniformHashCode()).ToArray();

        var rows = await Table.ReadRows(hashes[2], hashes[0]);

        Assert.Equal([grains[0], grains[3]], GrainIds(rows));
    }

    [Fact]
    public async Task ReadRowsWithEqualBoundsReturnsTheWholeRing()
    {
        var grains = await UpsertGrainsSortedByHashAsync(4);

        var rows = await Table.ReadRows(grains[1].GetUniformHashCode(), grains[1].GetUniformHashCode());

        Assert.Equal(grains, GrainIds(rows));
    }

    [Fact]
    public async Task ReadRowsCoversTheTopOfTheHashSpace()
    {
        var grains = await UpsertGrainsSortedByHashAsync(4);

        var rows = await Table.ReadRows(0, uint.MaxValue);

        Assert.Equal(grains, GrainIds(rows));
    }

    [Fact]
    public async Task TestOnlyClearTableRemovesEverything()
    {
        await Table.UpsertRow(Entry(Deployment, "reconcile"));

        await Table.TestOnlyClearTable();

        Assert.Empty((await Table.ReadRows(0, 0)).Reminders);
    }

    private static ReminderEntry Entry(GrainId grainId, string name, DateTime? startAt = null, TimeSpan? period = null) => new()
    {
        GrainId = grainId,
        ReminderName = name,
        StartAt = startAt ?? new DateTime(2030, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        Period = period ?? TimeSpan.FromMinutes(1),
    };

    private async Task<GrainId[]> UpsertGrainsSortedByHashAsync(int count)
    {
        var grains = Enumerable.Range(0, count)
            .Select(i => GrainId.Create("deployment", $"default/app-{i}"))
            .OrderBy(g => g.GetUniformHashCode())
            .ToArray();
        Assert.Equal(count, grains.Select(g => g.GetUniformHashCode()).Distinct().Count());
        foreach (var grain in grains)
        {
            await Table.UpsertRow(Entry(grain, "reconcile"));
        }

        return grains;
    }

    private static GrainId[] GrainIds(ReminderTableData rows)
        => rows.Reminders.Select(r => r.GrainId).OrderBy(g => g.GetUniformHashCode()).ToArray();
}
