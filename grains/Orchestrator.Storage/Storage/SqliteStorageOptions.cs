using Orleans.Storage;

namespace Orchestrator.Grains.Storage;

/// <summary>
/// Options of the embedded profile's SQLite storage: grain state and reminders in one database
/// file, <c>{DataDirectory}/orchestrator.db</c>.
/// </summary>
/// <remarks>
/// The database is one per silo and is shared by every SQLite grain storage provider and the
/// reminder table, so <see cref="DataDirectory"/>, <see cref="BusyTimeout"/> and
/// <see cref="MaxWriteBatchSize"/> are read from the unnamed options instance; every hosting
/// extension applies its configure delegate to that instance too. Only
/// <see cref="GrainStorageSerializer"/> is per provider (the instance named after it).
/// </remarks>
public sealed class SqliteStorageOptions : IStorageProviderSerializerOptions
{
    /// <summary>The database file name inside <see cref="DataDirectory"/>.</summary>
    public const string DatabaseFileName = "orchestrator.db";

    /// <summary>
    /// Directory that holds the database. Relative paths are resolved against the current
    /// directory when the database opens; the directory is created if missing.
    /// Default: <c>data</c>.
    /// </summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>
    /// How long a statement waits for a lock held by another connection before failing
    /// (SQLite <c>busy_timeout</c>). Within one silo all writes share one connection, so this only
    /// matters when something else opens the same file. Default: 5 seconds.
    /// </summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Most queued writes committed in one transaction (group commit). Larger batches amortize
    /// the commit further but hold the write lock longer. Default: 256.
    /// </summary>
    public int MaxWriteBatchSize { get; set; } = 256;

    /// <summary>
    /// Serializer of grain state payloads. When left unset it is resolved from DI: the
    /// <see cref="IGrainStorageSerializer"/> keyed by the provider name, else the silo-wide one.
    /// </summary>
    public IGrainStorageSerializer GrainStorageSerializer { get; set; } = null!;

    /// <summary>Absolute path of the database file.</summary>
    public string GetDatabasePath() => Path.Combine(Path.GetFullPath(DataDirectory), DatabaseFileName);
}
