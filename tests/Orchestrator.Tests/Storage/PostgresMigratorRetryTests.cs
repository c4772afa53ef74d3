using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orchestrator.Grains.Storage.Postgres;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Storage;

/// <summary>The migration at silo start waits for a PostgreSQL that is not reachable yet, and
/// gives up with an error that says what to check when it stays unreachable.</summary>
public sealed class PostgresMigratorRetryTests
{
    [Fact]
    public async Task AnUnreachableDatabaseIsRetriedThenReportedWithWhatToCheck()
    {
        // A loopback port nobody listens on: every connection attempt is refused at once.
        var port = Ports.Free();
        await using var source = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={port};Username=nobody;Database=none;Timeout=2");
        var logger = new ListLogger();

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => new PostgresMigrator(source, logger).MigrateWhenReachableAsync(TimeSpan.FromSeconds(3)));

        Assert.Contains($"127.0.0.1:{port}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Orchestrator:PostgresStartTimeout", ex.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<NpgsqlException>(ex.InnerException);
        // It waited before giving up: each refused attempt but the last is logged as a retry.
        Assert.NotEmpty(logger.Lines);
        Assert.All(logger.Lines, l => Assert.Contains("is not reachable yet (attempt", l, StringComparison.Ordinal));
    }

    private sealed class ListLogger : ILogger<PostgresMigrator>
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public IReadOnlyList<string> Lines => [.. _lines];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                _lines.Enqueue(formatter(state, exception));
            }
        }
    }
}
