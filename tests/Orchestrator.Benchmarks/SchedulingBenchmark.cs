using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestrator.GrainInterfaces;
using Orchestrator.NodeAgent;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.Grains;
using Orchestrator.Tests.Infrastructure.Processes;
using Orleans.Configuration;

namespace Orchestrator.Benchmarks;

/// <summary>
/// Scheduling at scale on hollow nodes: a silo process; N hollow nodes (the node agent's own
/// code with the fake runtime) in this process; P pods created through the HTTP API. Prints
/// pods bound per second, create-to-Running latency (p50, p99) and the silo's peak memory.
/// A warm-up round of pods (in their own namespace, kept) runs first, so that the figures are
/// those of a running control plane rather than of the JIT compiling it.
/// With --watchers W, that many extra clients watch all pods during the burst; each event's delay
/// is its arrival minus the time the silo wrote the change (the newest condition time it carries).
/// Afterwards all pods are listed in pages of --page-size (500). No step waits forever: a watch
/// that ends or falls behind (410) resumes and is counted, and a round that does not finish
/// within --deadline-minutes (10) stops the benchmark with what it saw.
/// With --silos N (N > 1) the control plane is N silos of the cluster profile (Redis, PostgreSQL,
/// started here), creates go to each silo in turn, and the run ends with where the pod grains
/// (whose activations serve each pod's writes) live and each silo's CPU.
/// Options: --nodes 1000 --pods 10000 --concurrency 64 --warmup 2000 --watchers 0 --idle-seconds 10
/// (how long the idle cost of the nodes' heartbeats is measured), and any
/// --Orchestrator:Key=Value setting for the silo (e.g. --Orchestrator:Dashboard=false).
/// </summary>
public static class SchedulingBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var nodes = Option(args, "--nodes", 1000);
        var pods = Option(args, "--pods", 10000);
        var concurrency = Option(args, "--concurrency", 64);
        var warmup = Option(args, "--warmup", 2000);
        var watchers = Option(args, "--watchers", 0);
        var pageSize = Option(args, "--page-size", 500);
        var deadline = TimeSpan.FromMinutes(Option(args, "--deadline-minutes", 10));
        var idleSeconds = Option(args, "--idle-seconds", 10);
        var siloCount = Option(args, "--silos", 1);
        // A /24 per node: the cluster CIDR must have room for every hollow node.
        List<string> settings = ["--Orchestrator:ClusterCidr=10.128.0.0/9", .. args.Where(a => a.StartsWith("--Orchestrator:", StringComparison.Ordinal))];
        await using var plane = siloCount > 1
            ? await ControlPlane.ClusterAsync(siloCount, settings, concurrency + 4)
            : await ControlPlane.EmbeddedAsync(settings, concurrency + 4);
        // Creates go to every silo in turn; the watch, the lists and the warm-up to the first.
        var http = plane.Silos[0].Api;
        Console.WriteLine($"control plane: {plane.Description}; starting {nodes} hollow nodes");
        var client = plane.Client;

        var options = new NodeAgentOptions { Runtime = "fake", Cpu = "32", Memory = "128Gi", MaxPods = 110, NodeIP = "127.0.0.1", HeartbeatInterval = TimeSpan.FromSeconds(1) };
        var names = Enumerable.Range(0, nodes).Select(i => $"hollow-{i}").ToList();
        var sw = Stopwatch.StartNew();
        await using var group = new NodeAgentGroup(names, options, client, _ => new FakeRuntime(TimeProvider.System), TimeProvider.System, NullLogger.Instance);
        await group.StartAsync(CancellationToken.None);
        while ((await client.GetGrain<ISchedulerGrain>(SchedulerGrainKeys.Default).GetStatsAsync()).Nodes < nodes)
        {
            await Task.Delay(100);
        }
        Console.WriteLine($"{nodes} nodes registered in {sw.Elapsed.TotalSeconds:F1} s");

        // The cost of a cluster doing nothing but keep its nodes alive (heartbeats, leases).
        // Measured after one lease period, so that registration's own work has settled.
        await Task.Delay(TimeSpan.FromSeconds(5));
        var idleStart = plane.CpuTime();
        var idleClock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(idleSeconds));
        var idleCores = (plane.CpuTime() - idleStart).TotalSeconds / idleClock.Elapsed.TotalSeconds;

        if (warmup > 0)
        {
            var sw2 = Stopwatch.StartNew();
            await RoundAsync(http, "warmup", warmup, concurrency, new Stopwatch());
            Console.WriteLine($"warm-up: {warmup} pods created and running in {sw2.Elapsed.TotalSeconds:F1} s");
        }
        await http.PostAsync("/api/v1/namespaces", Json("""{"metadata":{"name":"bench"}}"""));
        var created = new ConcurrentDictionary<string, double>();
        var bound = new ConcurrentDictionary<string, double>();
        var running = new ConcurrentDictionary<string, double>();
        var clock = Stopwatch.StartNew();
        using var watchCts = new CancellationTokenSource();
        var allRunning = new TaskCompletionSource();
        var watch = Task.Run(() => WatchAsync(http, "bench", clock, bound, running, pods, allRunning, watchCts.Token));
        var extraWatchers = Enumerable.Range(0, watchers).Select(_ => new ExtraWatcher()).ToList();
        using var watchersHttp = Kubeconfig.AdminClient(http.BaseAddress!.ToString(), plane.Silos[0].KubeconfigPath, Timeout.InfiniteTimeSpan, watchers + 1);
        var extraTasks = extraWatchers.Select(w => Task.Run(() => w.RunAsync(watchersHttp, watchCts.Token))).ToList();

        var siloCpuBefore = plane.CpuTimes();
        var ownCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var createStart = clock.Elapsed.TotalMilliseconds;
        await Parallel.ForEachAsync(Enumerable.Range(0, pods), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, ct) =>
        {
            var name = $"p-{i}";
            var body = "{\"metadata\":{\"name\":\"" + name + "\"}," + PodSpec;
            created[name] = clock.Elapsed.TotalMilliseconds;
            var response = await plane.Silos[i % plane.Silos.Count].Api.PostAsync("/api/v1/namespaces/bench/pods", Json(body), ct);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"create {name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
            }
        });
        var createEnd = clock.Elapsed.TotalMilliseconds;
        try
        {
            await allRunning.Task.WaitAsync(deadline);
        }
        catch (TimeoutException)
        {
            Console.WriteLine($"NOT FINISHED: after {deadline.TotalMinutes} min {running.Count} of {pods} pods were seen Running ({bound.Count} bound); stopping");
            // What each silo's API says, against what the watch saw: a watch that missed events,
            // or pods that never ran.
            foreach (var silo in plane.Silos)
            {
                var list = JsonNode.Parse(await silo.Api.GetStringAsync("/api/v1/namespaces/bench/pods"))!;
                var items = list["items"]!.AsArray();
                var phases = items.GroupBy(p => p?["status"]?["phase"]?.GetValue<string>() ?? "(none)").Select(g => $"{g.Key} {g.Count()}");
                var unseen = items.Where(p => p?["status"]?["phase"]?.GetValue<string>() == "Running" && !running.ContainsKey(p!["metadata"]!["name"]!.GetValue<string>())).Take(3)
                    .Select(p => $"{p!["metadata"]!["name"]} rv {p["metadata"]!["resourceVersion"]}");
                Console.WriteLine($"  LIST through {silo.Name} at rv {list["metadata"]?["resourceVersion"]}: {string.Join(", ", phases)}; Running but not seen by the watch, e.g.: {string.Join("; ", unseen)}");
                if (items.FirstOrDefault(p => p?["status"]?["phase"]?.GetValue<string>() is not ("Running" or "Pending")) is { } odd)
                {
                    Console.WriteLine($"  e.g. {odd["metadata"]!["name"]} on {odd["spec"]?["nodeName"]}: {odd["status"]!.ToJsonString()}");
                }
            }
            await watchCts.CancelAsync();
            return 1;
        }
        var siloCpus = plane.CpuTimes().Zip(siloCpuBefore, (after, before) => after - before).ToList();
        var siloCpu = siloCpus.Aggregate(TimeSpan.Zero, (a, b) => a + b);
        var ownCpu = Process.GetCurrentProcess().TotalProcessorTime - ownCpuBefore;
        await watchCts.CancelAsync();

        var latencies = running.Select(kv => kv.Value - created[kv.Key]).ToList();
        var bindTimes = bound.Values.OrderBy(v => v).ToList();
        var bindWindow = (bindTimes[^1] - bindTimes[0]) / 1000.0;
        Console.WriteLine();
        Console.WriteLine($"hollow nodes                    {nodes}");
        Console.WriteLine($"pods                            {pods} (created through the HTTP API, {concurrency} at a time)");
        Console.WriteLine($"create rate                     {pods / ((createEnd - createStart) / 1000.0):F0} pods/s");
        Console.WriteLine($"scheduling throughput           {pods / Math.Max(bindWindow, 0.001):F0} pods bound/s (first to last bind: {bindWindow:F2} s)");
        Console.WriteLine($"create to Running p50           {Stats.Median(latencies):F0} ms");
        Console.WriteLine($"create to Running p99           {Stats.Percentile(latencies, 99):F0} ms");
        Console.WriteLine($"all {pods} Running after        {(running.Values.Max() - createStart) / 1000.0:F2} s from the first create");
        Console.WriteLine($"silo peak memory (VmHWM)        {string.Join(", ", plane.PeakMemoryMiB().Select(m => $"{m:F0}"))} MiB");
        // CPU per pod is steadier than rates on a shared machine: it barely moves with load.
        Console.WriteLine($"silo CPU per pod                {siloCpu.TotalMilliseconds / pods:F2} ms ({siloCpu.TotalSeconds:F1} s in all)");
        Console.WriteLine($"client + hollow nodes CPU/pod   {ownCpu.TotalMilliseconds / pods:F2} ms");
        Console.WriteLine($"silo CPU idle with {nodes} nodes   {idleCores:F2} cores (heartbeats and leases alone)");
        if (plane.Silos.Count > 1)
        {
            // A pod's writes are served by its grain's activation: where the pod grains live
            // is where the writes went.
            var podGrains = await plane.ActivationsAsync("PodGrain");
            var nodeGrains = await plane.ActivationsAsync("NodeGrain");
            for (var s = 0; s < plane.Silos.Count; s++)
            {
                Console.WriteLine($"  {plane.Silos[s].Name}: {podGrains[s]} pod grains, {nodeGrains[s]} node grains, {siloCpus[s].TotalSeconds:F1} s CPU in the burst");
            }
        }
        Console.WriteLine($"watch restarts (main watch)     {s_restarts} ended streams, {s_gone} fell behind (410)");
        if (watchers > 0)
        {
            var delays = extraWatchers.SelectMany(w => w.Delays).ToList();
            Console.WriteLine($"{watchers} extra watchers of all pods  {delays.Count} events; delay p50 {Stats.Median(delays):F0} ms, p99 {Stats.Percentile(delays, 99):F0} ms; "
                + $"{extraWatchers.Sum(w => w.Gone)} fell behind (410), {extraWatchers.Sum(w => w.Restarts)} streams ended");
        }
        var pages = await ListInPagesAsync(http, pageSize);
        Console.WriteLine($"LIST all pods, pages of {pageSize}   {pages.Items} pods in {pages.Times.Count} pages; per page p50 {Stats.Median(pages.Times):F1} ms, p99 {Stats.Percentile(pages.Times, 99):F1} ms");
        try
        {
            await watch;
        }
        catch (OperationCanceledException)
        {
        }
        try
        {
            await Task.WhenAll(extraTasks);
        }
        catch (OperationCanceledException)
        {
        }
        // The nodes stop before the client they call through.
        await group.DisposeAsync();
        return 0;
    }

    /// <summary>Creates <paramref name="count"/> pods in a namespace of their own and waits until all run.</summary>
    private static async Task RoundAsync(HttpClient http, string ns, int count, int concurrency, Stopwatch clock)
    {
        await http.PostAsync("/api/v1/namespaces", Json("{\"metadata\":{\"name\":\"" + ns + "\"}}"));
        var running = new ConcurrentDictionary<string, double>();
        var done = new TaskCompletionSource();
        using var cts = new CancellationTokenSource();
        clock.Start();
        var watch = Task.Run(() => WatchAsync(http, ns, clock, new ConcurrentDictionary<string, double>(), running, count, done, cts.Token));
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, ct) =>
        {
            var response = await http.PostAsync($"/api/v1/namespaces/{ns}/pods", Json("{\"metadata\":{\"name\":\"w-" + i + "\"}," + PodSpec), ct);
            response.EnsureSuccessStatusCode();
        });
        try
        {
            await done.Task.WaitAsync(TimeSpan.FromMinutes(10));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"round {ns}: {running.Count} of {count} pods Running after 10 min");
        }
        await cts.CancelAsync();
        try
        {
            await watch;
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static int s_restarts;
    private static int s_gone;

    /// <summary>Follows the pods through the API's watch, noting when each was first seen bound
    /// and first seen Running. A stream that ends resumes from the last version seen; one told
    /// its version is too old (410) lists again, as a client-go informer does; both are counted.</summary>
    private static async Task WatchAsync(HttpClient http, string ns, Stopwatch clock, ConcurrentDictionary<string, double> bound,
        ConcurrentDictionary<string, double> running, int expected, TaskCompletionSource done, CancellationToken token)
    {
        string? from = null;
        while (!token.IsCancellationRequested)
        {
            var url = from is null ? $"/api/v1/namespaces/{ns}/pods?watch=true" : $"/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion={from}";
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, token);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(token));
            while (await reader.ReadLineAsync(token) is { } line)
            {
                var now = clock.Elapsed.TotalMilliseconds;
                var ev = JsonNode.Parse(line)!;
                if (ev["type"]?.GetValue<string>() == "ERROR")
                {
                    Interlocked.Increment(ref s_gone);
                    from = null;
                    break;
                }
                var obj = ev["object"]!;
                from = obj["metadata"]!["resourceVersion"]!.GetValue<string>();
                var name = obj["metadata"]!["name"]!.GetValue<string>();
                if (obj["spec"]?["nodeName"] is not null)
                {
                    bound.TryAdd(name, now);
                }
                if (obj["status"]?["phase"]?.GetValue<string>() == "Running" && running.TryAdd(name, now) && running.Count == expected)
                {
                    done.TrySetResult();
                }
            }
            Interlocked.Increment(ref s_restarts);
        }
    }

    /// <summary>A client watching every pod of the cluster, timing each event's delay. It reads
    /// each line with a forward-only reader and keeps only what it needs (the event type, the
    /// resourceVersion and the newest timestamp the silo wrote), so that a hundred of them on the
    /// same two cores as the silo measure the silo rather than their own JSON parsing.</summary>
    private sealed class ExtraWatcher
    {
        public ConcurrentBag<double> Delays { get; } = [];

        public int Gone { get; private set; }

        public int Restarts { get; private set; }

        public async Task RunAsync(HttpClient http, CancellationToken token)
        {
            string? from = null;
            while (!token.IsCancellationRequested)
            {
                var url = from is null ? "/api/v1/pods?watch=true&resourceVersion=0" : $"/api/v1/pods?watch=true&resourceVersion={from}";
                using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, token);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(token));
                var initial = from is null;
                while (await reader.ReadLineAsync(token) is { } line)
                {
                    var received = DateTimeOffset.UtcNow;
                    var (type, version, written) = Scan(line);
                    if (type == "ERROR")
                    {
                        Gone++;
                        from = null;
                        break;
                    }
                    from = version ?? from;
                    if (initial && type == "ADDED")
                    {
                        continue;
                    }
                    initial = false;
                    if (written is { } w && type != "DELETED")
                    {
                        Delays.Add((received - w).TotalMilliseconds);
                    }
                }
                Restarts++;
            }
        }

        /// <summary>The event's type, its object's resourceVersion, and the newest of its
        /// creationTimestamp and lastTransitionTimes: when the silo wrote this change.</summary>
        private static (string? Type, string? Version, DateTimeOffset? Written) Scan(string line)
        {
            var reader = new System.Text.Json.Utf8JsonReader(Encoding.UTF8.GetBytes(line));
            string? type = null, version = null;
            DateTimeOffset? newest = null;
            while (reader.Read())
            {
                if (reader.TokenType != System.Text.Json.JsonTokenType.PropertyName)
                {
                    continue;
                }
                if (reader.ValueTextEquals("type"u8) && reader.CurrentDepth == 1)
                {
                    reader.Read();
                    type = reader.GetString();
                }
                else if (reader.ValueTextEquals("resourceVersion"u8) && version is null)
                {
                    reader.Read();
                    version = reader.GetString();
                }
                else if (reader.ValueTextEquals("creationTimestamp"u8) || reader.ValueTextEquals("lastTransitionTime"u8))
                {
                    reader.Read();
                    if (reader.TokenType == System.Text.Json.JsonTokenType.String && reader.TryGetDateTimeOffset(out var t) && (newest is null || t > newest))
                    {
                        newest = t;
                    }
                }
            }
            return (type, version, newest);
        }
    }

    /// <summary>Lists every pod of the cluster in pages, timing each page.</summary>
    private static async Task<(int Items, List<double> Times)> ListInPagesAsync(HttpClient http, int pageSize)
    {
        var times = new List<double>();
        var items = 0;
        string? next = null;
        do
        {
            var sw = Stopwatch.StartNew();
            var url = $"/api/v1/pods?limit={pageSize}" + (next is null ? "" : "&continue=" + Uri.EscapeDataString(next));
            var page = JsonNode.Parse(await http.GetStringAsync(url))!;
            times.Add(sw.Elapsed.TotalMilliseconds);
            items += page["items"]!.AsArray().Count;
            next = page["metadata"]?["continue"]?.GetValue<string>();
        }
        while (!string.IsNullOrEmpty(next));
        return (items, times);
    }

    private const string PodSpec = """
        "spec":{"containers":[{"name":"c","image":"busybox:1","resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}]}}
        """;

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    public static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
