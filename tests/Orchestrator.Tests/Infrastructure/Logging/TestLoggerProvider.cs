using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Orchestrator.Tests.Infrastructure.Logging;

/// <summary>
/// Logging of a host in the test process (a silo, node agents) into the <see cref="CollectionLog"/> of
/// the collection that started it, one line per entry (plus its exception), named after
/// <paramref name="source"/>.
/// </summary>
public sealed class TestLoggerProvider(string source, CollectionLog log) : ILoggerProvider
{
    /// <summary>For the collection the calling code runs for.</summary>
    public TestLoggerProvider(string source)
        : this(source, CollectionLog.Current)
    {
    }

    /// <summary>Replaces a host's console logging with a <see cref="TestLoggerProvider"/>;
    /// configuration still filters by level.</summary>
    public static void ReplaceConsole(IServiceCollection services, string source)
    {
        var provider = new TestLoggerProvider(source);
        var console = services.Where(d => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType?.Name == "ConsoleLoggerProvider").ToList();
        foreach (var d in console)
        {
            services.Remove(d);
        }
        services.AddSingleton<ILoggerProvider>(provider);
    }

    /// <summary>A logger for code that takes one directly (in-process node agents).</summary>
    public static ILogger Logger(string source, LogLevel minimum = LogLevel.Information) =>
        new TestLogger(source, CollectionLog.Current, "", minimum);

    public ILogger CreateLogger(string categoryName) => new TestLogger(source, log, categoryName, LogLevel.Trace);

    public void Dispose()
    {
    }

    private sealed class TestLogger(string source, CollectionLog log, string category, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            var text = formatter(state, exception);
            var line = category.Length == 0 ? $"{Level(logLevel)} {text}" : $"{Level(logLevel)} {category}: {text}";
            if (exception is not null)
            {
                line += "\n" + exception;
            }
            log.WriteLine(source, line);
        }

        private static string Level(LogLevel level) => level switch
        {
            LogLevel.Trace => "trce",
            LogLevel.Debug => "dbug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warn",
            LogLevel.Error => "fail",
            _ => "crit",
        };
    }
}
