using Microsoft.Extensions.Logging;

namespace Orchestrator.Grains.Storage;

public sealed partial class SqliteDatabase
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Opened SQLite database {DatabasePath} (schema version {SchemaVersion}, SQLite {SqliteVersion})")]
    private static partial void LogOpened(ILogger logger, string databasePath, int schemaVersion, string sqliteVersion);

    [LoggerMessage(Level = LogLevel.Information, Message = "Migrated SQLite database {DatabasePath} from schema version {FromVersion} to {ToVersion}")]
    private static partial void LogMigrated(ILogger logger, string databasePath, int fromVersion, int toVersion);

    [LoggerMessage(Level = LogLevel.Trace, Message = "Committed a batch of {WriteCount} writes in {ElapsedMilliseconds} ms")]
    private static partial void LogBatchCommitted(ILogger logger, int writeCount, double elapsedMilliseconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "A batch of {WriteCount} writes to {DatabasePath} was rolled back; each of its writes fails")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, int writeCount, string databasePath);

    [LoggerMessage(Level = LogLevel.Information, Message = "Closed SQLite database {DatabasePath}")]
    private static partial void LogClosed(ILogger logger, string databasePath);
}
