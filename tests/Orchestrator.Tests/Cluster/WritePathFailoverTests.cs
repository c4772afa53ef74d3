using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;
using Xunit.Abstractions;
using static Orchestrator.Tests.Cluster.ClusterTestSupport;

namespace Orchestrator.Tests.Cluster;

/// <summary>
/// The write path and the per-silo caches across a kill -9, on three silo processes with Redis
/// and PostgreSQL. The store gives every write of a kind the next resourceVersion (gapless, in
/// commit order); every silo's cache follows that feed and serves lists and watches. So a watch
/// resumed on another silo misses and repeats nothing, an acknowledged write is in every silo's
/// lists and watches, and a continue token issued by one silo pages on another. Endpoints are
/// used because no controller writes them unless a service exists, and these tests create none:
/// every endpoints write in the cluster (each test has a database of its own) is the test's.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class WritePathFailoverTests(ClusterStoresFixture stores, ITestOutputHelper output)
{
    /// <summary>What a Status says when the silo that handled a write died before answering.</summary>
    private const string MayHaveBeenApplied = "may or may not have been applied";

    private static string EndpointsPath(string ns) => $"/api/v1/namespaces/{ns}/endpoints";

    /// <summary>Runs <paramref name="test"/> on three fresh silos, named A, B and C in the output.</summary>
    private async Task OnThreeSilosAsync(Func<Phases, LocalCluster, (SiloProcess A, SiloProcess B, SiloProcess C), Task> test)
    {
        var phases = new Phases(output);
        await using var cluster = await stores.StartClusterAsync(3, output);
        phases.Log("3 silos ready");
        await RunAsync(cluster, output, () =>
        {
            var silos = (cluster.Silos[0], cluster.Silos[1], cluster.Silos[2]);
            output.WriteLine($"A = {silos.Item1}\nB = {silos.Item2}\nC = {silos.Item3}");
            return test(phases, cluster, silos);
        });
    }

    [Fact]
    public async Task AWatchResumedOnAnotherSiloAfterAKillMissesAndRepeatsNothing()
    {
        const string ns = "resume";
        await OnThreeSilosAsync(async (phases, cluster, abc) =>
        {
            var (a, b, c) = abc;
            await CreateEventuallyAsync(Api(b), "/api/v1/namespaces", new Namespace { Metadata = new ObjectMeta { Name = ns } });
            var first = await CreateEventuallyAsync(Api(b), EndpointsPath(ns), new Endpoints { Metadata = new ObjectMeta { Name = "first" } });
            var from = Version(first.Metadata.ResourceVersion);
            // Every silo builds its caches when it starts, so both resumed watches are served from
            // the surviving silos' in-memory logs (the store's feed behind a cache is tested by
            // EmbeddedRestartTests, whose restarted silo's cache starts after the watch's version).
            Assert.Single(await ListEventuallyAsync<Endpoints>(Api(b), EndpointsPath(ns)));

            // Two watches through A from the first object's version: this namespace's endpoints,
            // and every endpoints object of the cluster (the whole kind: its versions are gapless).
            var inNamespace = new WatchFollower(EndpointsPath(ns), from);
            var wholeKind = new WatchFollower("/api/v1/endpoints", from);
            var killed = new KillSwitch();
            using var safety = new CancellationTokenSource();
            var nsOnA = inNamespace.FollowUntilBrokenAsync(a, "A", killed, safety.Token);
            var kindOnA = wholeKind.FollowUntilBrokenAsync(a, "A", killed, safety.Token);
            await Task.WhenAll(inNamespace.Opened, wholeKind.Opened).WaitAsync(Eventually.DefaultTimeout);
            phases.Log($"watches open through A from resourceVersion {from}");

            // One writer through B, one through C, on names of their own: create, patch, and
            // (10 objects behind) delete. Every attempt is made once and its answer recorded.
            var log = new WriteLog();
            var writers = new[] { (Silo: b, Label: "B"), (Silo: c, Label: "C") }
                .Select(w => Task.Run(async () =>
                {
                    var prefix = w.Label.ToLowerInvariant();
                    for (var i = 0; i < 100; i++)
                    {
                        var name = $"{prefix}-{i:000}";
                        await log.SendAsync(w.Silo, w.Label, WriteOp.Create, name, HttpMethod.Post, EndpointsPath(ns),
                            ResourceJson.SerializeToString(new Endpoints { Metadata = new ObjectMeta { Name = name } }));
                        await log.SendAsync(w.Silo, w.Label, WriteOp.Patch, name, HttpMethod.Patch, $"{EndpointsPath(ns)}/{name}",
                            new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["n"] = i.ToString(CultureInfo.InvariantCulture) } } }.ToJsonString(), "application/merge-patch+json");
                        if (i >= 10)
                        {
                            var old = $"{prefix}-{i - 10:000}";
                            await log.SendAsync(w.Silo, w.Label, WriteOp.Delete, old, HttpMethod.Delete, $"{EndpointsPath(ns)}/{old}");
                        }
                    }
                }))
                .ToList();

            await Eventually.True(() => log.Acknowledged >= 100 && inNamespace.Count >= 20 && wholeKind.Count >= 20,
                "100 acknowledged writes, 20 of them seen by both watches through A", Slow);
            var ackedAtKill = log.Acknowledged;
            killed.Set();
            await cluster.KillAsync(a);
            phases.Log($"killed A after {ackedAtKill} acknowledged writes; the watches through A had {inNamespace.Count} and {wholeKind.Count} events");

            // The streams through A break with A; if they did not, they are cancelled and reported.
            safety.CancelAfter(Slow);
            var endings = await Task.WhenAll(nsOnA, kindOnA);
            Assert.False(safety.IsCancellationRequested, $"the watches through A did not break within {Slow.TotalSeconds:0} s of the kill: {endings[0]}; {endings[1]}");
            phases.Log($"the watches through A ended: {endings[0]}; {endings[1]}");
            await Task.WhenAll(writers).WaitAsync(TimeSpan.FromMinutes(3));
            var writes = log.All;
            phases.Log($"writers done: {log.Summary()}");
            output.WriteLine(log.Failures(20));
            Assert.True(log.Acknowledged > ackedAtKill, $"no write was acknowledged after the kill ({ackedAtKill} before it): the test did not write through the failover");

            // Each watch resumes from the version of the last event it received, and is read
            // until it has passed the last acknowledged write.
            var acked = writes.Where(w => w.Outcome == Outcome.Acknowledged).ToList();
            var target = acked.Max(w => w.Version);
            var nsResumed = await inNamespace.ResumeAsync(b, "B", target, Slow);
            var kindResumed = await wholeKind.ResumeAsync(c, "C", target, Slow);
            phases.Log($"resumed up to {target}: namespace watch through B {nsResumed}; whole-kind watch through C {kindResumed}");
            output.WriteLine($"namespace watch: {inNamespace.Describe()}\nwhole-kind watch: {wholeKind.Describe()}");

            var problems = new List<string>();
            problems.AddRange(inNamespace.Problems("namespace watch"));
            problems.AddRange(wholeKind.Problems("whole-kind watch"));
            if (inNamespace.Last < target)
            {
                problems.Add($"namespace watch: {nsResumed}");
            }
            if (wholeKind.Last < target)
            {
                problems.Add($"whole-kind watch: {kindResumed}");
            }
            problems.AddRange(CheckAgainstWrites("namespace watch", ns, inNamespace.Events.Where(e => e.Version <= target).ToList(), writes));

            // The whole kind: every version from the start to the end, each once (nothing else
            // writes endpoints in this cluster, so they are all this namespace's).
            var kindEvents = wholeKind.Events.Where(e => e.Version <= target).ToList();
            var versions = kindEvents.Select(e => e.Version).ToHashSet();
            var gaps = LongRange(from + 1, target).Where(v => !versions.Contains(v)).ToList();
            if (gaps.Count > 0)
            {
                problems.Add($"whole-kind watch: {gaps.Count} versions between {from + 1} and {target} never arrived: {Versions(gaps)}"
                    + $" ({string.Join("; ", gaps.Take(10).Select(v => log.Describe(v)))})");
            }
            var outside = kindEvents.Where(e => e.Namespace != ns).ToList();
            if (outside.Count > 0)
            {
                problems.Add($"whole-kind watch: events of other namespaces, though only this test writes endpoints: {string.Join("; ", outside.Take(5))}");
            }
            var nsVersions = inNamespace.Events.Where(e => e.Version <= target).Select(e => e.Version).ToList();
            var kindNsVersions = kindEvents.Where(e => e.Namespace == ns).Select(e => e.Version).ToList();
            if (!nsVersions.SequenceEqual(kindNsVersions))
            {
                problems.Add($"the namespace watch got {Versions(nsVersions.Except(kindNsVersions))} that the whole-kind watch did not, which got {Versions(kindNsVersions.Except(nsVersions))} that the namespace watch did not");
            }
            Assert.True(problems.Count == 0, string.Join("\n", problems));
        });
    }

    [Fact]
    public async Task AnAcknowledgedWriteIsInEveryListAndWatchAfterAKill()
    {
        const string ns = "acked";
        const int names = 600;
        await OnThreeSilosAsync(async (phases, cluster, abc) =>
        {
            var (a, b, c) = abc;
            await CreateEventuallyAsync(Api(b), "/api/v1/namespaces", new Namespace { Metadata = new ObjectMeta { Name = ns } });

            // Through A: create an object, then patch a label onto it; one attempt each. After
            // the kill, the first request that gets no answer ends the loop.
            var log = new WriteLog();
            var killed = new KillSwitch();
            var writer = Task.Run(async () =>
            {
                for (var i = 0; i < names; i++)
                {
                    var name = $"w-{i:000}";
                    var create = await log.SendAsync(a, "A", WriteOp.Create, name, HttpMethod.Post, EndpointsPath(ns),
                        ResourceJson.SerializeToString(new Endpoints { Metadata = new ObjectMeta { Name = name } }));
                    if (killed.IsSet && create.NoAnswer)
                    {
                        return $"stopped by a request without an answer after the kill, at {name}";
                    }
                    var patch = await log.SendAsync(a, "A", WriteOp.Patch, name, HttpMethod.Patch, $"{EndpointsPath(ns)}/{name}",
                        """{"metadata":{"labels":{"patched":"yes"}}}""", "application/merge-patch+json");
                    if (killed.IsSet && patch.NoAnswer)
                    {
                        return $"stopped by a request without an answer after the kill, at {name}";
                    }
                }
                return $"all {names} objects written";
            });

            await Eventually.True(() => log.Acknowledged >= 100 || writer.IsCompleted, "100 writes acknowledged through A", Slow);
            var ackedAtKill = log.Acknowledged;
            killed.Set();
            await cluster.KillAsync(a);
            phases.Log($"killed A after {ackedAtKill} acknowledged writes");
            var ended = await writer.WaitAsync(Slow);
            phases.Log($"writer: {ended}; {log.Summary()}");
            output.WriteLine(log.Failures(20));
            Assert.True(ended.StartsWith("stopped", StringComparison.Ordinal), $"the writer was not cut by the kill: {ended}");

            var writes = log.All;
            var problems = new List<string>();
            var fromB = await ListEventuallyAsync<Endpoints>(Api(b), EndpointsPath(ns));
            problems.AddRange(CheckAcknowledgedPresent("LIST through B", fromB, writes));
            var fromC = await ListEventuallyAsync<Endpoints>(Api(c), EndpointsPath(ns));
            problems.AddRange(CheckAcknowledgedPresent("LIST through C", fromC, writes));
            phases.Log($"listed {fromB.Count} objects through B, {fromC.Count} through C");

            // Nothing writes this namespace any more: a watch from 0 through C starts with exactly
            // the listed objects as ADDED events.
            var initial = await InitialEventsAsync(c, EndpointsPath(ns), fromC.Count);
            var notAdded = initial.Where(e => e.Type != "ADDED").ToList();
            if (notAdded.Count > 0)
            {
                problems.Add($"watch from 0 through C: the initial events are not all ADDED: {string.Join("; ", notAdded.Take(5).Select(e => e.Object.ToJsonString()))}");
            }
            problems.AddRange(CheckAcknowledgedPresent("watch from 0 through C", initial.Select(e => e.Object.Deserialize<Endpoints>(ResourceJson.Lenient)!).ToList(), writes));
            phases.Log($"{initial.Count} initial events through C");
            Assert.True(problems.Count == 0, string.Join("\n", problems));
        });
    }

    [Fact]
    public async Task PagedListsAcrossSilosAreConsistent()
    {
        const string ns = "pages";
        await OnThreeSilosAsync(async (phases, cluster, abc) =>
        {
            var (a, b, c) = abc;
            await CreateEventuallyAsync(Api(a), "/api/v1/namespaces", new Namespace { Metadata = new ObjectMeta { Name = ns } });
            var original = Enumerable.Range(0, 120).Select(i => $"e{i:000}").ToList();
            var silos = new[] { a, b, c };
            for (var i = 0; i < original.Count; i++)
            {
                await CreateEventuallyAsync(Api(silos[i % 3]), EndpointsPath(ns), new Endpoints { Metadata = new ObjectMeta { Name = original[i] } });
            }
            phases.Log("120 objects created through A, B and C in turn");

            var page1 = await GetListAsync(a, $"{EndpointsPath(ns)}?limit=50", "page 1 through A");
            var token = ContinueOf(page1);
            var snapshot = ListVersion(page1);
            output.WriteLine($"page 1 through A at resourceVersion {snapshot}: {Names(page1).Count} items, continue {token}");
            Assert.NotNull(token);

            // Changes through B in every page's range, and before and after all of them.
            string[] added = ["d000", "e010a", "e049a", "e050a", "e074a", "e099a", "e100a", "e118a", "e119a", "e200"];
            string[] deleted = ["e003", "e020", "e049", "e050", "e060", "e075", "e099", "e100", "e110", "e119"];
            foreach (var name in added)
            {
                var reply = await SendAsync(b, HttpMethod.Post, EndpointsPath(ns), ResourceJson.SerializeToString(new Endpoints { Metadata = new ObjectMeta { Name = name } }));
                Assert.True(reply.Code == HttpStatusCode.Created, $"create {name} through B: {(int)reply.Code} {reply.Body}");
            }
            foreach (var name in deleted)
            {
                var reply = await SendAsync(b, HttpMethod.Delete, $"{EndpointsPath(ns)}/{name}");
                Assert.True(reply.Code == HttpStatusCode.OK, $"delete {name} through B: {(int)reply.Code} {reply.Body}");
            }
            phases.Log("10 created and 10 deleted through B");

            // C has served no endpoints request yet (its cache of the kind is built on first use),
            // as a silo behind a load balancer may not have: the token must page there all the same.
            var page2 = await GetListAsync(c, $"{EndpointsPath(ns)}?limit=50&continue={Uri.EscapeDataString(token)}", $"page 2 through C, with the continue token of page 1 (at resourceVersion {snapshot}) from A");
            var token2 = ContinueOf(page2);
            output.WriteLine($"page 2 through C at resourceVersion {ListVersion(page2)}: {Names(page2).Count} items, continue {token2}");
            Assert.NotNull(token2);
            var page3 = await GetListAsync(c, $"{EndpointsPath(ns)}?limit=50&continue={Uri.EscapeDataString(token2)}", "page 3 through C");
            output.WriteLine($"page 3 through C at resourceVersion {ListVersion(page3)}: {Names(page3).Count} items, continue {ContinueOf(page3)}");

            Assert.Equal(snapshot, ListVersion(page2));
            Assert.Equal(snapshot, ListVersion(page3));
            Assert.Null(ContinueOf(page3));
            Assert.Equal(original.Take(50), Names(page1));
            Assert.Equal(original.Skip(50).Take(50), Names(page2));
            Assert.Equal(original.Skip(100), Names(page3));
            var union = Names(page1).Concat(Names(page2)).Concat(Names(page3)).ToList();
            Assert.Equal(original, union);
        });
    }

    // ------------------------------------------------------------------ checks

    /// <summary>The watch against what the writers were told: every acknowledged write is there,
    /// once, as the event its operation makes, at its version; every other event is of a write
    /// whose outcome the writer could not know.</summary>
    private static List<string> CheckAgainstWrites(string what, string ns, IReadOnlyList<Received> events, IReadOnlyList<Write> writes)
    {
        var problems = new List<string>();
        var byVersion = events.Where(e => e.Namespace == ns).GroupBy(e => e.Version).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var write in writes.Where(w => w.Outcome == Outcome.Acknowledged))
        {
            if (!byVersion.TryGetValue(write.Version, out var got))
            {
                problems.Add($"{what}: missed the acknowledged {write}");
            }
            else if (got.Count != 1 || got[0].Name != write.Name || got[0].Type != write.EventType)
            {
                problems.Add($"{what}: the acknowledged {write} came as {string.Join(", ", got)}");
            }
        }
        var acknowledged = writes.Where(w => w.Outcome == Outcome.Acknowledged).Select(w => w.Version).ToHashSet();
        var unknown = writes.Where(w => w.Outcome == Outcome.Unknown).GroupBy(w => (w.Name, w.EventType)).ToDictionary(g => g.Key, g => g.Count());
        foreach (var ev in events.Where(e => e.Namespace == ns && !acknowledged.Contains(e.Version)))
        {
            if (unknown.TryGetValue((ev.Name, ev.Type), out var left) && left > 0)
            {
                unknown[(ev.Name, ev.Type)] = left - 1;
            }
            else
            {
                var failed = writes.Where(w => w.Name == ev.Name && w.EventType == ev.Type && w.Outcome == Outcome.Failed).ToList();
                problems.Add($"{what}: {ev} is no acknowledged write nor one of unknown outcome"
                    + (failed.Count > 0 ? $"; it is a write answered with an error: {string.Join("; ", failed)}" : ""));
            }
        }
        return problems;
    }

    /// <summary>Every acknowledged write is in <paramref name="objects"/> (at its version or later);
    /// no write answered with an error is.</summary>
    private static List<string> CheckAcknowledgedPresent(string what, IReadOnlyList<Endpoints> objects, IReadOnlyList<Write> writes)
    {
        var problems = new List<string>();
        var byName = new Dictionary<string, Endpoints>(StringComparer.Ordinal);
        foreach (var obj in objects)
        {
            if (!byName.TryAdd(obj.Metadata.Name!, obj))
            {
                problems.Add($"{what}: {obj.Metadata.Name} is there twice");
            }
        }
        foreach (var write in writes)
        {
            byName.TryGetValue(write.Name, out var now);
            var patched = now?.Metadata.Labels?.GetValueOrDefault("patched") == "yes";
            switch (write.Outcome, write.Op)
            {
                case (Outcome.Acknowledged, _) when now is null:
                    problems.Add($"{what}: the acknowledged {write} is missing");
                    break;
                case (Outcome.Acknowledged, _) when Version(now!.Metadata.ResourceVersion) < write.Version:
                    problems.Add($"{what}: the acknowledged {write} is at the older resourceVersion {now.Metadata.ResourceVersion}");
                    break;
                case (Outcome.Acknowledged, WriteOp.Patch) when !patched:
                    problems.Add($"{what}: the acknowledged {write} is at resourceVersion {now!.Metadata.ResourceVersion} without its label");
                    break;
                case (Outcome.Failed, WriteOp.Create) when now is not null:
                    problems.Add($"{what}: {write} is there (resourceVersion {now.Metadata.ResourceVersion}), though its create was answered with an error");
                    break;
                case (Outcome.Failed, WriteOp.Patch) when patched:
                    problems.Add($"{what}: {write} is applied (resourceVersion {now!.Metadata.ResourceVersion}), though it was answered with an error");
                    break;
            }
        }
        return problems;
    }

    // ------------------------------------------------------------------ HTTP

    private sealed record Reply(HttpStatusCode Code, string Body);

    private static async Task<Reply> SendAsync(SiloProcess silo, HttpMethod method, string path, string? body = null)
    {
        using var response = await Api(silo).SendAsync(method, path, body);
        return new Reply(response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<JsonObject> GetListAsync(SiloProcess silo, string url, string what)
    {
        using var response = await silo.Http.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{what}: HTTP {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    private static List<string> Names(JsonObject list) =>
        list["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.GetValue<string>()).ToList();

    private static string? ContinueOf(JsonObject list) =>
        list["metadata"]?["continue"]?.GetValue<string>() is { Length: > 0 } token ? token : null;

    private static string ListVersion(JsonObject list) => list["metadata"]!["resourceVersion"]!.GetValue<string>();

    private static long Version(string? resourceVersion) => long.Parse(resourceVersion!, NumberStyles.None, CultureInfo.InvariantCulture);

    private static IEnumerable<long> LongRange(long first, long last)
    {
        for (var v = first; v <= last; v++)
        {
            yield return v;
        }
    }

    /// <summary>Versions as ranges: "12-15, 19".</summary>
    private static string Versions(IEnumerable<long> versions)
    {
        var sorted = versions.Order().ToList();
        if (sorted.Count == 0)
        {
            return "none";
        }
        var parts = new List<string>();
        var start = sorted[0];
        var previous = start;
        foreach (var v in sorted.Skip(1).Append(long.MinValue))
        {
            if (v == previous + 1)
            {
                previous = v;
                continue;
            }
            parts.Add(start == previous ? $"{start}" : $"{start}-{previous}");
            start = previous = v;
        }
        return string.Join(", ", parts);
    }

    private sealed record InitialEvent(string Type, JsonObject Object);

    /// <summary>Opens a watch from resourceVersion 0 and reads its first <paramref name="count"/> events.</summary>
    private static async Task<List<InitialEvent>> InitialEventsAsync(SiloProcess silo, string path, int count)
    {
        using var cts = new CancellationTokenSource(Slow);
        using var response = await silo.Http.GetAsync($"{path}?watch=true&resourceVersion=0", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.True(response.IsSuccessStatusCode, $"watch from 0: HTTP {(int)response.StatusCode}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        var events = new List<InitialEvent>();
        try
        {
            while (events.Count < count)
            {
                var line = await reader.ReadLineAsync(cts.Token) ?? throw new InvalidOperationException($"the watch from 0 ended after {events.Count} of {count} events");
                var ev = JsonNode.Parse(line)!.AsObject();
                events.Add(new InitialEvent(ev["type"]!.GetValue<string>(), ev["object"]!.AsObject()));
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"the watch from 0 sent {events.Count} of the {count} listed objects in {Slow.TotalSeconds:0} s");
        }
        return events;
    }

    // ------------------------------------------------------------------ writes

    private enum WriteOp
    {
        Create,
        Patch,
        Delete,
    }

    private enum Outcome
    {
        /// <summary>Answered 2xx: applied, at <see cref="Write.Version"/>.</summary>
        Acknowledged,

        /// <summary>No answer (the connection failed), a 504, or a Status saying the change may or
        /// may not have been applied: not asserted either way.</summary>
        Unknown,

        /// <summary>Any other error status: not applied.</summary>
        Failed,
    }

    private sealed record Write(WriteOp Op, string Name, string Silo, Outcome Outcome, long Version, string Answer, bool NoAnswer)
    {
        public string EventType => Op switch
        {
            WriteOp.Create => "ADDED",
            WriteOp.Patch => "MODIFIED",
            _ => "DELETED",
        };

        public override string ToString() =>
            $"{Op.ToString().ToLowerInvariant()} {Name} through {Silo}" + (Outcome == Outcome.Acknowledged ? $" at {Version}" : $" ({Outcome}: {Answer})");
    }

    /// <summary>Every write attempt and its answer, from any number of writer tasks.</summary>
    private sealed class WriteLog
    {
        private readonly ConcurrentQueue<Write> _writes = new();
        private int _acknowledged;

        public int Acknowledged => Volatile.Read(ref _acknowledged);

        public IReadOnlyList<Write> All => [.. _writes];

        public async Task<Write> SendAsync(SiloProcess silo, string label, WriteOp op, string name, HttpMethod method, string path, string? body = null, string contentType = "application/json")
        {
            Write write;
            try
            {
                using var response = await Api(silo).SendAsync(method, path, body, contentType);
                var text = await response.Content.ReadAsStringAsync();
                var code = (int)response.StatusCode;
                if (response.IsSuccessStatusCode)
                {
                    var rv = JsonNode.Parse(text)!["metadata"]!["resourceVersion"]!.GetValue<string>();
                    write = new Write(op, name, label, Outcome.Acknowledged, Version(rv), $"{code}", NoAnswer: false);
                    Interlocked.Increment(ref _acknowledged);
                }
                else
                {
                    var unknown = response.StatusCode == HttpStatusCode.GatewayTimeout || text.Contains(MayHaveBeenApplied, StringComparison.Ordinal);
                    write = new Write(op, name, label, unknown ? Outcome.Unknown : Outcome.Failed, 0, $"{code} {text}", NoAnswer: false);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
            {
                write = new Write(op, name, label, Outcome.Unknown, 0, $"no answer: {ex.GetType().Name}: {ex.Message}", NoAnswer: true);
            }
            _writes.Enqueue(write);
            return write;
        }

        public string Summary()
        {
            var all = All;
            return $"{all.Count} writes: {all.Count(w => w.Outcome == Outcome.Acknowledged)} acknowledged, "
                + $"{all.Count(w => w.Outcome == Outcome.Unknown)} of unknown outcome ({all.Count(w => w.NoAnswer)} without an answer), "
                + $"{all.Count(w => w.Outcome == Outcome.Failed)} answered with an error";
        }

        public string Failures(int max)
        {
            var text = new StringBuilder();
            foreach (var w in All.Where(w => w.Outcome != Outcome.Acknowledged).Take(max))
            {
                text.Append("  ").Append(w).Append('\n');
            }
            return text.ToString();
        }

        /// <summary>The acknowledged write at <paramref name="version"/>, if any.</summary>
        public string Describe(long version) =>
            All.FirstOrDefault(w => w.Outcome == Outcome.Acknowledged && w.Version == version) is { } w ? $"{version}: {w}" : $"{version}: no acknowledged write";
    }

    /// <summary>Set just before the kill, so that what ends afterwards is known to follow it.</summary>
    private sealed class KillSwitch
    {
        private int _set;

        public bool IsSet => Volatile.Read(ref _set) == 1;

        public void Set() => Volatile.Write(ref _set, 1);
    }

    // ------------------------------------------------------------------ watches

    /// <summary>One event as a watch delivered it, with the silo that sent it.</summary>
    private sealed record Received(long Version, string Type, string? Namespace, string Name, string Silo)
    {
        public override string ToString() => $"{Type} {Namespace}/{Name} at {Version} from {Silo}";
    }

    /// <summary>
    /// A watch as a client keeps it: it follows one silo until the stream breaks, then resumes on
    /// another from the resourceVersion of the last event it received. Keeps every event.
    /// </summary>
    private sealed class WatchFollower(string path, long from)
    {
        private readonly List<Received> _events = [];
        private readonly List<string> _errors = [];
        private readonly List<string> _streams = [];
        private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _last = from;

        public Task Opened => _opened.Task;

        public long Last
        {
            get
            {
                lock (_events)
                {
                    return _last;
                }
            }
        }

        public int Count
        {
            get
            {
                lock (_events)
                {
                    return _events.Count;
                }
            }
        }

        public IReadOnlyList<Received> Events
        {
            get
            {
                lock (_events)
                {
                    return [.. _events];
                }
            }
        }

        /// <summary>Follows the watch through <paramref name="silo"/> until its stream ends; returns
        /// how it ended (and whether that was before the kill).</summary>
        public async Task<string> FollowUntilBrokenAsync(SiloProcess silo, string label, KillSwitch killed, CancellationToken cancellationToken)
        {
            string how;
            try
            {
                how = await ReadAsync(silo, label, long.MaxValue, cancellationToken);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
            {
                how = $"{ex.GetType().Name}: {ex.Message}";
            }
            _opened.TrySetException(new InvalidOperationException($"the watch through {label} did not open: {how}"));
            if (!killed.IsSet)
            {
                lock (_events)
                {
                    _errors.Add($"the watch through {label} ended before the kill: {how}");
                }
            }
            return how;
        }

        /// <summary>Resumes through <paramref name="silo"/> from the last version received until a
        /// version of <paramref name="until"/> or later has come, opening the watch again if its
        /// stream ends (at most 10 times, within <paramref name="timeout"/>).</summary>
        public async Task<string> ResumeAsync(SiloProcess silo, string label, long until, TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            var endings = new List<string>();
            for (var attempt = 1; Last < until; attempt++)
            {
                if (attempt > 10)
                {
                    return $"stuck at {Last} (wanted {until}) after 10 watches through {label}: {string.Join("; ", endings)}";
                }
                try
                {
                    var how = await ReadAsync(silo, label, until, cts.Token);
                    if (Last < until)
                    {
                        endings.Add(how);
                    }
                    if (how.StartsWith("ERROR", StringComparison.Ordinal))
                    {
                        return $"stopped at {Last} (wanted {until}) by {how}";
                    }
                }
                catch (OperationCanceledException) when (cts.IsCancellationRequested)
                {
                    return $"stuck at {Last} (wanted {until}): nothing newer came through {label} in {timeout.TotalSeconds:0} s; {string.Join("; ", endings)}";
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException)
                {
                    endings.Add($"{ex.GetType().Name}: {ex.Message}");
                }
            }
            return endings.Count == 0 ? $"reached {Last} in one watch" : $"reached {Last} after {string.Join("; ", endings)}";
        }

        /// <summary>One watch request: reads events until <paramref name="until"/> is reached or the
        /// stream ends; returns why it stopped.</summary>
        private async Task<string> ReadAsync(SiloProcess silo, string label, long until, CancellationToken cancellationToken)
        {
            var start = Last;
            using var response = await silo.Http.GetAsync($"{path}?watch=true&resourceVersion={start}", HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                lock (_events)
                {
                    _streams.Add($"through {label} from {start}: HTTP {(int)response.StatusCode} {body}");
                }
                return $"HTTP {(int)response.StatusCode}: {body}";
            }
            lock (_events)
            {
                _streams.Add($"through {label} from {start}");
            }
            _opened.TrySetResult();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
            while (Last < until)
            {
                var line = await reader.ReadLineAsync(cancellationToken);
                if (line is null)
                {
                    return "the stream ended";
                }
                JsonObject ev;
                try
                {
                    ev = JsonNode.Parse(line)!.AsObject();
                }
                catch (JsonException)
                {
                    return $"a partial line: {line}";
                }
                var type = ev["type"]!.GetValue<string>();
                if (type == "ERROR")
                {
                    var error = $"ERROR event through {label} from {start}: {ev["object"]!.ToJsonString()}";
                    lock (_events)
                    {
                        _errors.Add(error);
                    }
                    return error;
                }
                if (type == "BOOKMARK")
                {
                    continue;
                }
                var meta = ev["object"]!["metadata"]!;
                var received = new Received(Version(meta["resourceVersion"]!.GetValue<string>()), type,
                    meta["namespace"]?.GetValue<string>(), meta["name"]!.GetValue<string>(), label);
                lock (_events)
                {
                    _events.Add(received);
                    _last = received.Version;
                }
            }
            return $"reached {Last}";
        }

        public string Describe()
        {
            lock (_events)
            {
                return $"{_events.Count} events, {string.Join(", ", _events.GroupBy(e => e.Silo).Select(g => $"{g.Count()} from {g.Key} ({g.First().Version}-{g.Last().Version})"))}; streams: {string.Join("; ", _streams)}";
            }
        }

        /// <summary>Errors, and versions that went back or came twice.</summary>
        public List<string> Problems(string what)
        {
            var problems = new List<string>();
            lock (_events)
            {
                problems.AddRange(_errors.Select(e => $"{what}: {e}"));
                for (var i = 1; i < _events.Count; i++)
                {
                    if (_events[i].Version <= _events[i - 1].Version)
                    {
                        problems.Add($"{what}: event {i} ({_events[i]}) does not come after event {i - 1} ({_events[i - 1]})");
                        if (problems.Count > 20)
                        {
                            break;
                        }
                    }
                }
                foreach (var twice in _events.GroupBy(e => e.Version).Where(g => g.Count() > 1).Take(10))
                {
                    problems.Add($"{what}: resourceVersion {twice.Key} came {twice.Count()} times: {string.Join("; ", twice)}");
                }
            }
            return problems;
        }
    }
}
