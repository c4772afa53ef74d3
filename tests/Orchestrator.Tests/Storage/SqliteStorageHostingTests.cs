using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orchestrator.Grains.Storage;
using Orleans;
using Orleans.Providers;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.TestingHost;

namespace Orchestrator.Tests.Storage;

public sealed class SqliteStorageHostingTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task RegistersKeyedStorageAndRemindersOverOneDatabase()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IGrainStorageSerializer>(StorageFixture.Serializer);
        services.AddSqliteGrainStorage("objects", o => o.DataDirectory = _directory.Path);
        services.AddSqliteGrainStorageAsDefault(o => o.DataDirectory = _directory.Path);
        services.UseSqliteReminderService(o => o.DataDirectory = _directory.Path);

        await using var provider = services.BuildServiceProvider(validateScopes: true);

        var objects = provider.GetRequiredKeyedService<IGrainStorage>("objects");
        var defaultStorage = provider.GetRequiredKeyedService<IGrainStorage>(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME);
        Assert.IsType<SqliteGrainStorage>(objects);
        Assert.NotSame(objects, defaultStorage);
        Assert.Same(defaultStorage, provider.GetRequiredService<IGrainStorage>());
        Assert.IsType<SqliteReminderTable>(provider.GetRequiredService<IReminderTable>());
        Assert.Equal(
            Path.Combine(_directory.Path, SqliteStorageOptions.DatabaseFileName),
            provider.GetRequiredService<SqliteDatabase>().DatabasePath);
        Assert.Same(StorageFixture.Serializer, provider.GetRequiredService<IOptionsMonitor<SqliteStorageOptions>>().Get("objects").GrainStorageSerializer);

        // Written through one provider, read back through the other's database: the same file.
        await objects.WriteStateAsync("state", GrainId.Create("pod", "default/a"), new GrainState<TestState>(new TestState("a", 1)));
        var read = new GrainState<TestState>();
        await provider.GetRequiredKeyedService<IGrainStorage>(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME).ReadStateAsync("state", GrainId.Create("pod", "default/a"), read);
        Assert.Equal("a", read.State!.Name);
    }

    [Fact]
    public async Task InvalidOptionsFailWithAMessageSayingWhatToSet()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.UseSqliteReminderService(o => o.MaxWriteBatchSize = 0);

        await using var provider = services.BuildServiceProvider();

        var exception = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<SqliteDatabase>());
        Assert.Contains("MaxWriteBatchSize", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidatorAcceptsTheDefaults()
    {
        var result = new SqliteStorageOptionsValidator().Validate(Options.DefaultName, new SqliteStorageOptions());

        Assert.True(result.Succeeded);
        Assert.Equal(
            Path.Combine(Directory.GetCurrentDirectory(), "data", "orchestrator.db"),
            new SqliteStorageOptions().GetDatabasePath());
    }

    [Fact]
    public async Task ASiloStoresGrainStateAndRemindersInSqlite()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) => silo
            .AddSqliteGrainStorageAsDefault(o => o.DataDirectory = _directory.Path)
            .UseSqliteReminderService(o => o.DataDirectory = _directory.Path)
            // Keyed by the provider name: Orleans' default serializer (Newtonsoft with .NET type
            // names) stays the silo-wide one, as it would be for other providers.
            .ConfigureServices(services => services.AddKeyedSingleton(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME, StorageFixture.Serializer)));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        try
        {
            var services = cluster.GetSiloServiceProvider();
            Assert.IsType<SqliteReminderTable>(services.GetRequiredService<IReminderTable>());
            Assert.Same(
                StorageFixture.Serializer,
                services.GetRequiredService<IOptionsMonitor<SqliteStorageOptions>>().Get(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME).GrainStorageSerializer);

            var storage = services.GetRequiredKeyedService<IGrainStorage>(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME);
            var pod = GrainId.Create("pod", "default/nginx");
            await storage.WriteStateAsync("state", pod, new GrainState<TestState>(new TestState("nginx", 1)));
            var read = new GrainState<TestState>(new TestState("default", 0));
            await storage.ReadStateAsync("state", pod, read);
            Assert.Equal(new TestState("nginx", 1), read.State);

            // The reminder service started on this table (it reads its ring range while the silo
            // starts); registering a reminder through it needs a grain context, so use the table.
            Assert.NotNull(services.GetService<IReminderService>());
            var reminders = services.GetRequiredService<IReminderTable>();
            var eTag = await reminders.UpsertRow(new ReminderEntry { GrainId = pod, ReminderName = "reconcile", Period = TimeSpan.FromMinutes(5) });
            var row = await reminders.ReadRow(pod, "reconcile");
            Assert.NotNull(row);
            Assert.Equal(eTag, row.ETag);
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }
}
