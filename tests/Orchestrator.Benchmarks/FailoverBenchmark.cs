using System.Diagnostics;
using System.Globalization;
using System.Net;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Benchmarks;

/// <summary>
/// Time from kill -9 of a silo to the first successful API write through another silo, in the
/// cluster profile (silo processes on a redis-server and a PostgreSQL of their own, on loopback).
/// Each trial kills the oldest silo (there is no index grain every write goes through any more:
/// each silo serves reads from its own cache, and a write is its object's grain and the store),
/// then POSTs namespaces to a surviving silo as fast as answers come until one is accepted; a
/// replacement silo restores the cluster before the next trial.
/// </summary>
/// <remarks>
/// Options: --trials N (default 5), --silos N (default 3), --orleans-defaults (Orleans' own
/// failure detection settings instead of the cluster profile's), and any --Orchestrator:Key=Value
/// setting, passed to every silo.
/// </remarks>
public static class FailoverBenchmark
{
    /// <summary>Orleans 10.4.2's ClusterMembershipOptions defaults, spelled out.</summary>
    private static readonly string[] OrleansDefaults =
    [
        "--Orchestrator:Membership:ProbeTimeout=00:00:05",
        "--Orchestrator:Membership:NumMissedProbesLimit=3",
        "--Orchestrator:Membership:NumVotesForDeathDeclaration=2",
        "--Orchestrator:Membership:DeathVoteExpirationTimeout=00:02:00",
        "--Orchestrator:Membership:IAmAliveTablePublishTimeout=00:00:30",
        "--Orchestrator:Membership:NumMissedTableIAmAliveLimit=3",
        "--Orchestrator:Membership:TableRefreshTimeout=00:01:00",
        "--Orchestrator:Membership:MaxJoinAttemptTime=00:05:00",
    ];

    private static readonly string[] Quiet =
    [
        "--Logging:LogLevel:Default=Warning",
        "--Logging:Console:TimestampFormat=HH:mm:ss.fff ",
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        var trials = IntOption(args, "--trials", 5);
        var siloCount = IntOption(args, "--silos", 3);
        var orleansDefaults = args.Contains("--orleans-defaults");
        var extra = args.Where(a => a.StartsWith("--Orchestrator:", StringComparison.Ordinal)).ToList();
        if (trials < 1 || siloCount < 2)
        {
            Console.Error.WriteLine("usage: failover [--trials N] [--silos N>=2] [--orleans-defaults] [--Orchestrator:Key=Value ...]");
            return 2;
        }
        List<string> settings = [.. orleansDefaults ? OrleansDefaults : [], .. extra];

        using var directory = new TempDirectory("orch-failover");
        await using var redis = await RedisServer.StartAsync(directory.Path);
        await using var postgres = await PostgresServer.StartAsync(directory.Path);
        await using var cluster = await LocalCluster.StartAsync(redis, postgres, directory.Path, siloCount, settings, Quiet);
        await cluster.WaitReadyAsync();

        Console.WriteLine($"failover: {siloCount} silos (cluster profile: Redis {redis.ConnectionString}, PostgreSQL 127.0.0.1:{postgres.Port}), {trials} trials");
        Console.WriteLine("each trial: kill -9 the oldest silo, then POST /api/v1/namespaces to another silo until 201");
        Console.WriteLine($"failure detection: {(orleansDefaults ? "Orleans defaults" : "cluster profile defaults")}: {Describe(settings, orleansDefaults)}");

        var results = new List<double>();
        for (var trial = 1; trial <= trials; trial++)
        {
            var victim = cluster.Silos[0];
            var survivor = cluster.Silos[^1];

            var clock = Stopwatch.StartNew();
            await cluster.KillAsync(victim);
            var (attempts, failures) = (0, new Dictionary<int, int>());
            while (true)
            {
                attempts++;
                using var body = new StringContent(
                    ResourceJson.SerializeToString(new Namespace { Metadata = new ObjectMeta { Name = $"trial-{trial}-{attempts}" } }),
                    System.Text.Encoding.UTF8, "application/json");
                using var response = await survivor.Http.PostAsync("/api/v1/namespaces", body);
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    break;
                }
                failures[(int)response.StatusCode] = failures.GetValueOrDefault((int)response.StatusCode) + 1;
                if (clock.Elapsed > TimeSpan.FromMinutes(3))
                {
                    Console.Error.WriteLine($"trial {trial}: no write accepted within 3 minutes");
                    return 1;
                }
            }
            var elapsed = clock.Elapsed.TotalMilliseconds;
            results.Add(elapsed);
            var failed = failures.Count == 0 ? "" : ", failed first: " + string.Join(", ", failures.Select(f => $"{f.Value}x {f.Key}"));
            Console.WriteLine($"trial {trial}: {elapsed,7:0} ms to the first accepted write ({attempts} attempts{failed}); killed {victim.Name}, wrote through {survivor.Name}");

            cluster.StartSilo();
            await cluster.WaitReadyAsync();
        }

        Console.WriteLine($"median {Stats.Median(results):0} ms (min {results.Min():0}, max {results.Max():0}) over {results.Count} trials");
        return 0;
    }

    private static string Describe(IReadOnlyList<string> settings, bool orleansDefaults)
    {
        var shown = orleansDefaults
            ? settings
            :
            [
                "--Orchestrator:Membership:ProbeTimeout=00:00:01", "--Orchestrator:Membership:NumMissedProbesLimit=3",
                "--Orchestrator:Membership:NumVotesForDeathDeclaration=2", "--Orchestrator:Membership:DeathVoteExpirationTimeout=00:00:20",
                "--Orchestrator:Membership:IAmAliveTablePublishTimeout=00:00:02", "--Orchestrator:Membership:NumMissedTableIAmAliveLimit=3",
                "--Orchestrator:Membership:TableRefreshTimeout=00:00:10", .. settings,
            ];
        return string.Join(" ", shown.Select(s => s.Replace("--Orchestrator:Membership:", "", StringComparison.Ordinal).Replace("--Orchestrator:", "", StringComparison.Ordinal)))
            + " CallRetry:MaxElapsed=" + (settings.FirstOrDefault(s => s.StartsWith("--Orchestrator:CallRetry:MaxElapsed=", StringComparison.Ordinal))?.Split('=')[1] ?? "00:00:15");
    }

    private static int IntOption(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : fallback;
    }
}
