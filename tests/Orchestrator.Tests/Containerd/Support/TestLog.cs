using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Orchestrator.Tests.Infrastructure.Logging;

namespace Orchestrator.Tests.Containerd;

/// <summary>
/// Keeps the last log lines of in-process agents so a failing test can show them, and copies
/// them to the running test's log file (<see cref="CollectionLog"/>) and to the file named by
/// ORCH_TEST_AGENT_LOG when that is set.
/// </summary>
public sealed class TestLog
{
    private const int Keep = 2000;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly string? _file = Environment.GetEnvironmentVariable("ORCH_TEST_AGENT_LOG");
    private readonly CollectionLog _collection = CollectionLog.Current;

    public ILogger CreateLogger(string category) => new Logger(this, category);

    public string Tail(int lines = 60) => string.Join('\n', _lines.TakeLast(lines));

    private void Write(string line)
    {
        _collection.WriteLine("agent", line);
        _lines.Enqueue(line);
        while (_lines.Count > Keep && _lines.TryDequeue(out _))
        {
        }
        if (_file is not null)
        {
            lock (_lines)
            {
                File.AppendAllText(_file, line + "\n");
            }
        }
    }

    private sealed class Logger(TestLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                log.Write($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
            }
        }
    }
}
