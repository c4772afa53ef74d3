using Orchestrator.Benchmarks;

// Each benchmark is a class in its own file; the first argument names it.
var benchmarks = new Dictionary<string, Func<string[], Task<int>>>(StringComparer.OrdinalIgnoreCase)
{
    ["scheduling"] = SchedulingBenchmark.RunAsync,
    ["pod-start"] = args => OperatingSystem.IsLinux() ? PodStartBenchmark.RunAsync(args) : Task.FromResult(1),
    ["proxy"] = args => OperatingSystem.IsLinux() ? ProxyBenchmark.RunAsync(args) : Task.FromResult(1),
    ["failover"] = FailoverBenchmark.RunAsync,
    ["footprint"] = FootprintBenchmark.RunAsync,
    ["healing"] = args => OperatingSystem.IsLinux() ? HealingBenchmark.RunAsync(args) : Task.FromResult(1),
};

if (args.Length == 0 || !benchmarks.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: Orchestrator.Benchmarks <{string.Join("|", benchmarks.Keys)}> [options]");
    return 2;
}
return await run(args[1..]);
