namespace Orchestrator.Benchmarks;

/// <summary>Scheduling throughput and create-to-Running latency on hollow nodes.</summary>
public static class SchedulingBenchmark
{
    public static Task<int> RunAsync(string[] args)
    {
        Console.Error.WriteLine("not written yet");
        return Task.FromResult(1);
    }
}
