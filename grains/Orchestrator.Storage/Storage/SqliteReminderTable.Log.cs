using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Orchestrator.Grains.Storage;

public sealed partial class SqliteReminderTable
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "Reminder table stores reminders in {DatabasePath}")]
    private static partial void LogStarted(ILogger logger, string databasePath);

    [LoggerMessage(Level = LogLevel.Trace, Message = "Upserted reminder {ReminderName} of {GrainId}, ETag {ETag}")]
    private static partial void LogUpserted(ILogger logger, GrainId grainId, string reminderName, string eTag);

    [LoggerMessage(Level = LogLevel.Trace, Message = "Remove of reminder {ReminderName} of {GrainId} with ETag {ETag}: removed {Removed}")]
    private static partial void LogRemoved(ILogger logger, GrainId grainId, string reminderName, string? eTag, bool removed);
}
