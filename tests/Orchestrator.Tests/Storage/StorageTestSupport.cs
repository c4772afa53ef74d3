using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestrator.Grains.Storage;
using Orleans.Storage;

namespace Orchestrator.Tests.Storage;

/// <summary>A fresh directory under the system temp directory, deleted with everything in it on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "orchestrator-storage-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}

/// <summary>Plain System.Text.Json, no .NET type names: the kind of serializer the silo plugs in.</summary>
internal sealed class PlainJsonGrainStorageSerializer : IGrainStorageSerializer
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public BinaryData Serialize<T>(T? input) => new(JsonSerializer.SerializeToUtf8Bytes(input, Options));

    public T? Deserialize<T>(BinaryData input) => JsonSerializer.Deserialize<T>(input.ToMemory().Span, Options);
}

internal sealed record TestState(string Name, int Replicas, string Padding = "");

/// <summary>A database in a temp directory with the storage and reminder table over it.</summary>
internal sealed class StorageFixture : IAsyncDisposable
{
    private readonly TempDirectory _directory;

    private StorageFixture(TempDirectory directory, SqliteDatabase database)
    {
        _directory = directory;
        Database = database;
        Storage = CreateStorage(database);
        Reminders = new SqliteReminderTable(database, NullLogger<SqliteReminderTable>.Instance);
    }

    public static IGrainStorageSerializer Serializer { get; } = new PlainJsonGrainStorageSerializer();

    public string DataDirectory => _directory.Path;

    public SqliteDatabase Database { get; }

    public SqliteGrainStorage Storage { get; }

    public SqliteReminderTable Reminders { get; }

    public static StorageFixture Create(int maxWriteBatchSize = 256)
    {
        var directory = new TempDirectory();
        try
        {
            return new StorageFixture(directory, OpenDatabase(directory.Path, maxWriteBatchSize));
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    public static SqliteDatabase OpenDatabase(string dataDirectory, int maxWriteBatchSize = 256)
        => new(
            Microsoft.Extensions.Options.Options.Create(new SqliteStorageOptions
            {
                DataDirectory = dataDirectory,
                MaxWriteBatchSize = maxWriteBatchSize,
            }),
            NullLogger<SqliteDatabase>.Instance);

    public static SqliteGrainStorage CreateStorage(SqliteDatabase database)
        => new(
            "test",
            new SqliteStorageOptions { GrainStorageSerializer = Serializer },
            database,
            NullLogger<SqliteGrainStorage>.Instance);

    public async ValueTask DisposeAsync()
    {
        await Database.DisposeAsync();
        _directory.Dispose();
    }
}
