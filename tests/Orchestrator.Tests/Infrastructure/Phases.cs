using System.Diagnostics;
using Xunit.Abstractions;

namespace Orchestrator.Tests.Infrastructure;

/// <summary>A clock for the phases of a long test, written to its output as "12.3 s  what
/// happened", so that a slow or failed run shows where its time went.</summary>
public sealed class Phases(ITestOutputHelper output)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public TimeSpan Elapsed => _clock.Elapsed;

    public void Log(string what) => output.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.0} s  {what}");
}
