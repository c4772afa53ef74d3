using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Orchestrator.Grains.Storage;

public sealed partial class SqliteGrainStorage
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "Grain storage {ProviderName} stores state in {DatabasePath}")]
    private static partial void LogStarted(ILogger logger, string providerName, string databasePath);

    [LoggerMessage(Level = LogLevel.Error, Message = "Grain storage {ProviderName} failed to read state {StateName} of {GrainId}")]
    private static partial void LogReadFailed(ILogger logger, Exception exception, string providerName, string stateName, GrainId grainId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Grain storage {ProviderName} failed to write state {StateName} of {GrainId}")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string providerName, string stateName, GrainId grainId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Grain storage {ProviderName} failed to clear state {StateName} of {GrainId}")]
    private static partial void LogClearFailed(ILogger logger, Exception exception, string providerName, string stateName, GrainId grainId);

    // Debug, not warning: a conflict is optimistic concurrency doing its job, and the caller decides.
    [LoggerMessage(Level = LogLevel.Debug, Message = "Grain storage {ProviderName} rejected a stale write of state {StateName} of {GrainId}: stored ETag {StoredETag}, current ETag {CurrentETag}")]
    private static partial void LogConflict(ILogger logger, string providerName, string stateName, GrainId grainId, string? storedETag, string? currentETag);
}
