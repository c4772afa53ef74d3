using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.HttpApi;

/// <summary>
/// Kubernetes' consistency semantics over HTTP: concurrent writes, optimistic concurrency,
/// paged lists served from one snapshot, resourceVersionMatch, and watch bookmarks.
/// </summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class ConsistencyTests(ControlPlaneFixture cp)
{
    private const string StaleObjectMessage = "the object has been modified; please apply your changes to the latest version and try again";

    private const string ContinueExpiredMessage = "The provided continue parameter is too old to display a consistent list result.";

    private ApiClient Api => cp.Api;

    private static string EndpointsPath(string ns) => $"/api/v1/namespaces/{ns}/endpoints";

    private static string DeploymentsPath(string ns) => $"/apis/apps/v1/namespaces/{ns}/deployments";

    private sealed record Reply(HttpStatusCode Code, string Body);

    private async Task<Reply> SendAsync(HttpMethod method, string path, string? body = null, string contentType = "application/json")
    {
        var response = await Api.SendAsync(method, path, body, contentType);
        return new Reply(response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonObject> GetJsonAsync(string url) =>
        await ApiClient.ReadAsync<JsonObject>(await Api.Http.GetAsync(url), HttpStatusCode.OK);

    private Task<Endpoints> CreateEndpointsAsync(string ns, string name, Dictionary<string, string>? labels = null) =>
        Api.CreateAsync(EndpointsPath(ns), new Endpoints { Metadata = new ObjectMeta { Name = name, Labels = labels } });

    private Task<Reply> PatchLabelAsync(string path, string key, string value) =>
        SendAsync(HttpMethod.Patch, path, new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { [key] = value } } }.ToJsonString(), "application/merge-patch+json");

    private static void AssertAllOk(IReadOnlyList<Reply> replies, string what)
    {
        var failed = replies.Where(r => r.Code != HttpStatusCode.OK).ToList();
        if (failed.Count > 0)
        {
            var codes = string.Join(", ", failed.GroupBy(r => (int)r.Code).Select(g => $"{g.Count()} x {g.Key}"));
            Assert.Fail($"{failed.Count} of {replies.Count} {what} did not answer 200 ({codes}); the first said: {failed[0].Body}");
        }
    }

    private static ApiStatus StatusOf(Reply reply, HttpStatusCode expected)
    {
        Assert.True(reply.Code == expected, $"expected HTTP {(int)expected}, got {(int)reply.Code}: {reply.Body}");
        var status = JsonSerializer.Deserialize<ApiStatus>(reply.Body, ResourceJson.Lenient)!;
        Assert.Equal("Status", status.Kind);
        Assert.Equal((int)expected, status.Code);
        return status;
    }

    private static long Version(string? resourceVersion) => long.Parse(resourceVersion!, NumberStyles.None, CultureInfo.InvariantCulture);

    private static long Version(JsonNode node) => Version(node["metadata"]!["resourceVersion"]!.GetValue<string>());

    private static List<string> Names(JsonObject list) =>
        list["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.GetValue<string>()).ToList();

    private static string? ContinueOf(JsonObject list) =>
        list["metadata"]?["continue"]?.GetValue<string>() is { Length: > 0 } token ? token : null;

    private static long? RemainingItemCountOf(JsonObject list) => list["metadata"]?["remainingItemCount"]?.GetValue<long>();

    /// <summary>Follows continue tokens from <paramref name="first"/> to the last page.</summary>
    private async Task<List<JsonObject>> FollowPagesAsync(string path, int limit, JsonObject first)
    {
        var pages = new List<JsonObject> { first };
        while (ContinueOf(pages[^1]) is { } token)
        {
            Assert.True(pages.Count < 100, "the continue tokens never end");
            pages.Add(await GetJsonAsync($"{path}?limit={limit}&continue={Uri.EscapeDataString(token)}"));
        }
        return pages;
    }

    /// <summary>A watch's response, read one event (one line) at a time.</summary>
    private sealed class WatchStream(HttpResponseMessage response, StreamReader reader) : IDisposable
    {
        public static async Task<WatchStream> OpenAsync(ApiClient api, string url, CancellationToken cancellationToken)
        {
            var response = await api.Http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            response.EnsureSuccessStatusCode();
            return new WatchStream(response, new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken)));
        }

        public async Task<JsonObject> NextAsync(CancellationToken cancellationToken)
        {
            var line = await reader.ReadLineAsync(cancellationToken) ?? throw new InvalidOperationException("the watch ended");
            return JsonNode.Parse(line)!.AsObject();
        }

        public void Dispose()
        {
            reader.Dispose();
            response.Dispose();
        }
    }

    /// <summary>Reads a watch on a namespace where nothing changes until a BOOKMARK at
    /// <paramref name="atLeast"/> or later arrives; every line must be a well-formed bookmark.</summary>
    private static async Task<long> NextBookmarkAtLeastAsync(WatchStream watch, long atLeast, long from, CancellationToken cancellationToken)
    {
        var last = from;
        try
        {
            while (true)
            {
                var ev = await watch.NextAsync(cancellationToken);
                Assert.True(ev["type"]!.GetValue<string>() == "BOOKMARK", $"nothing changes in the watched namespace, yet the watch sent {ev.ToJsonString()}");
                var obj = ev["object"]!.AsObject();
                Assert.Equal(["apiVersion", "kind", "metadata"], obj.Select(p => p.Key).Order(StringComparer.Ordinal).ToArray());
                Assert.Equal("Endpoints", obj["kind"]!.GetValue<string>());
                Assert.Equal("v1", obj["apiVersion"]!.GetValue<string>());
                Assert.Equal(["resourceVersion"], obj["metadata"]!.AsObject().Select(p => p.Key).ToArray());
                var version = Version(obj);
                Assert.True(version >= last, $"a bookmark went back from {last} to {version}");
                last = version;
                if (version >= atLeast)
                {
                    return version;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no BOOKMARK at resourceVersion {atLeast} or later arrived in time (the last was at {last})");
        }
    }

    [Fact]
    public async Task ConcurrentMergePatchesWithoutAVersionAllSucceedAndKeepEveryField()
    {
        // Kubernetes: a patch without a resourceVersion is applied to the latest object (the server retries its own conflicts), so no concurrent patch fails or is lost.
        var ns = await cp.NewNamespaceAsync();
        await Api.CreateAsync(DeploymentsPath(ns), Manifests.Deployment("web", 0));
        var path = $"{DeploymentsPath(ns)}/web";

        var replies = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => PatchLabelAsync(path, $"l{i}", "v")));

        AssertAllOk(replies, "merge patches");
        var labels = (await Api.GetAsync<Deployment>(path)).Metadata.Labels ?? new Dictionary<string, string>();
        var missing = Enumerable.Range(0, 40).Select(i => $"l{i}").Where(l => !labels.TryGetValue(l, out var v) || v != "v").ToList();
        Assert.True(missing.Count == 0, $"labels lost: {string.Join(", ", missing)}");
    }

    [Fact]
    public async Task ConcurrentJsonPatchesWithoutAVersionAllSucceedAndKeepEveryField()
    {
        // Kubernetes: a JSON patch without a test of resourceVersion is applied to the latest object, so no concurrent patch fails or is lost.
        var ns = await cp.NewNamespaceAsync();
        var deployment = Manifests.Deployment("web", 0);
        // One annotation, so that /metadata/annotations exists (Kubernetes drops an empty map).
        deployment = deployment with { Metadata = deployment.Metadata with { Annotations = new Dictionary<string, string> { ["seed"] = "s" } } };
        await Api.CreateAsync(DeploymentsPath(ns), deployment);
        var path = $"{DeploymentsPath(ns)}/web";

        var replies = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            SendAsync(HttpMethod.Patch, path, $$"""[{"op":"add","path":"/metadata/annotations/a{{i}}","value":"v"}]""", "application/json-patch+json")));

        AssertAllOk(replies, "JSON patches");
        var annotations = (await Api.GetAsync<Deployment>(path)).Metadata.Annotations ?? new Dictionary<string, string>();
        var missing = Enumerable.Range(0, 20).Select(i => $"a{i}").Where(a => !annotations.TryGetValue(a, out var v) || v != "v").ToList();
        Assert.True(missing.Count == 0, $"annotations lost: {string.Join(", ", missing)}");
        Assert.Equal("s", annotations["seed"]);
    }

    [Fact]
    public async Task ConcurrentUpdatesNamingTheSameVersionExactlyOneWins()
    {
        // Kubernetes: an update carrying metadata.resourceVersion is a compare-and-swap; of racing updates from one version exactly one wins, the rest get 409 Conflict.
        var ns = await cp.NewNamespaceAsync();
        await CreateEndpointsAsync(ns, "ep");
        var path = $"{EndpointsPath(ns)}/ep";
        var current = await Api.GetAsync<Endpoints>(path);

        var replies = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
        {
            var update = current with { Metadata = current.Metadata with { Labels = new Dictionary<string, string> { ["w"] = i.ToString(CultureInfo.InvariantCulture) } } };
            return SendAsync(HttpMethod.Put, path, ResourceJson.SerializeToString(update));
        }));

        var winners = replies.Select((r, i) => (Reply: r, Index: i)).Where(r => r.Reply.Code == HttpStatusCode.OK).ToList();
        Assert.True(winners.Count == 1, $"{winners.Count} of 50 updates from one version answered 200");
        var losers = replies.Where(r => r.Code != HttpStatusCode.OK).ToList();
        Assert.Equal(49, losers.Count);
        foreach (var loser in losers)
        {
            var status = StatusOf(loser, HttpStatusCode.Conflict);
            Assert.Equal(StatusReason.Conflict, status.Reason);
            Assert.Contains(StaleObjectMessage, status.Message, StringComparison.Ordinal);
        }
        var stored = await Api.GetAsync<Endpoints>(path);
        Assert.Equal(winners[0].Index.ToString(CultureInfo.InvariantCulture), stored.Metadata.Labels!["w"]);
        Assert.True(Version(stored.Metadata.ResourceVersion) > Version(current.Metadata.ResourceVersion));
    }

    [Fact]
    public async Task PutWithoutAVersionReplacesTheLatest()
    {
        // Kubernetes: an update without metadata.resourceVersion is unconditional (for kinds that allow it, Endpoints among them): every one succeeds.
        var ns = await cp.NewNamespaceAsync();
        var created = await CreateEndpointsAsync(ns, "ep");
        var path = $"{EndpointsPath(ns)}/ep";

        var replies = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
        {
            var update = created with { Metadata = created.Metadata with { ResourceVersion = null, Labels = new Dictionary<string, string> { ["w"] = i.ToString(CultureInfo.InvariantCulture) } } };
            return SendAsync(HttpMethod.Put, path, ResourceJson.SerializeToString(update));
        }));

        AssertAllOk(replies, "updates without a resourceVersion");
        var stored = await Api.GetAsync<Endpoints>(path);
        Assert.Contains(stored.Metadata.Labels!["w"], Enumerable.Range(0, 20).Select(i => i.ToString(CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task ListPagesReturnEveryObjectExactlyOnce()
    {
        // Kubernetes: limit/continue pages a list in key order, every page served from the first page's snapshot (same resourceVersion), with remainingItemCount.
        var ns = await cp.NewNamespaceAsync();
        var names = Enumerable.Range(0, 57).Select(i => $"e{i:00}").ToList();
        await Task.WhenAll(names.Select(n => CreateEndpointsAsync(ns, n)));

        var first = await GetJsonAsync($"{EndpointsPath(ns)}?limit=10");
        Assert.Equal(10, Names(first).Count);
        Assert.NotNull(ContinueOf(first));
        Assert.Equal((long?)47, RemainingItemCountOf(first));

        var pages = await FollowPagesAsync(EndpointsPath(ns), 10, first);
        Assert.Equal(6, pages.Count);
        Assert.All(pages, p => Assert.InRange(Names(p).Count, 1, 10));
        Assert.Equal(names, pages.SelectMany(Names).ToList());
        var snapshot = first["metadata"]!["resourceVersion"]!.GetValue<string>();
        Assert.All(pages, p => Assert.Equal(snapshot, p["metadata"]!["resourceVersion"]!.GetValue<string>()));
        Assert.Null(ContinueOf(pages[^1]));
        Assert.True(RemainingItemCountOf(pages[^1]) is null or 0, $"the last page says {RemainingItemCountOf(pages[^1])} items remain");
    }

    [Fact]
    public async Task PagesStayConsistentAcrossConcurrentWrites()
    {
        // Kubernetes: the pages after the first are served at the first page's resourceVersion, so writes made meanwhile do not show and deleted objects still do.
        var ns = await cp.NewNamespaceAsync();
        var names = Enumerable.Range(0, 30).Select(i => $"o{i:00}").ToList();
        await Task.WhenAll(names.Select(n => CreateEndpointsAsync(ns, n)));

        var first = await GetJsonAsync($"{EndpointsPath(ns)}?limit=10");
        Assert.Equal(names.Take(10).ToList(), Names(first));
        Assert.NotNull(ContinueOf(first));

        foreach (var added in new[] { "o12a", "o18a", "o24a", "o27a", "o35" })
        {
            await CreateEndpointsAsync(ns, added);
        }
        foreach (var deleted in new[] { "o14", "o21", "o28" })
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Delete, $"{EndpointsPath(ns)}/{deleted}")).Code);
        }

        var pages = await FollowPagesAsync(EndpointsPath(ns), 10, first);
        Assert.Equal(names, pages.SelectMany(Names).ToList());
        var snapshot = first["metadata"]!["resourceVersion"]!.GetValue<string>();
        Assert.All(pages, p => Assert.Equal(snapshot, p["metadata"]!["resourceVersion"]!.GetValue<string>()));
    }

    [Fact]
    public async Task AContinueTokenFromACompactedVersionIs410()
    {
        // Kubernetes: a continue token whose snapshot has been compacted away answers 410 Expired (the client must restart the list).
        var ns = await cp.NewNamespaceAsync();
        await CreateEndpointsAsync(ns, "a");
        await CreateEndpointsAsync(ns, "b");
        var first = await GetJsonAsync($"{EndpointsPath(ns)}?limit=1");
        Assert.Equal(["a"], Names(first));
        var token = ContinueOf(first);
        Assert.NotNull(token);

        // The test fixture keeps 200 changes per kind: make more.
        for (var i = 0; i < 230; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await PatchLabelAsync($"{EndpointsPath(ns)}/a", "n", i.ToString(CultureInfo.InvariantCulture))).Code);
        }

        var status = await ApiClient.StatusAsync(await Api.Http.GetAsync($"{EndpointsPath(ns)}?limit=1&continue={Uri.EscapeDataString(token)}"), 410);
        Assert.Equal(StatusReason.Expired, status.Reason);
        Assert.StartsWith(ContinueExpiredMessage, status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMalformedContinueTokenIs400()
    {
        // Kubernetes: a continue token the server cannot decode is a 400 Bad Request naming the continue parameter.
        var ns = await cp.NewNamespaceAsync();
        await CreateEndpointsAsync(ns, "a");
        var status = await ApiClient.StatusAsync(await Api.Http.GetAsync($"{EndpointsPath(ns)}?limit=1&continue=garbage"), 400);
        Assert.Equal(StatusReason.BadRequest, status.Reason);
        Assert.Contains("continue", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResourceVersionMatchNotOlderThanServesAtLeastThatVersion()
    {
        // Kubernetes: resourceVersionMatch=NotOlderThan serves a list at least as new as the given resourceVersion.
        var ns = await cp.NewNamespaceAsync();
        await CreateEndpointsAsync(ns, "a");
        var patched = await ApiClient.ReadAsync<Endpoints>(await Api.SendAsync(HttpMethod.Patch, $"{EndpointsPath(ns)}/a", """{"metadata":{"labels":{"v":"2"}}}""", "application/merge-patch+json"), HttpStatusCode.OK);
        var written = Version(patched.Metadata.ResourceVersion);

        var list = await GetJsonAsync($"{EndpointsPath(ns)}?resourceVersionMatch=NotOlderThan&resourceVersion={written}");
        Assert.True(Version(list) >= written, $"the list is at {Version(list)}, older than the write at {written}");
        var item = Assert.Single(list["items"]!.AsArray())!;
        Assert.Equal("2", item["metadata"]!["labels"]!["v"]!.GetValue<string>());
        Assert.Equal(written, Version(item));
    }

    [Fact]
    public async Task ResourceVersionMatchExactServesTheListAsOfThatVersion()
    {
        // Kubernetes: resourceVersionMatch=Exact serves the list exactly as it was at the given resourceVersion.
        var ns = await cp.NewNamespaceAsync();
        var a = await CreateEndpointsAsync(ns, "a", new Dictionary<string, string> { ["v"] = "1" });
        var before = await GetJsonAsync(EndpointsPath(ns));
        var r = before["metadata"]!["resourceVersion"]!.GetValue<string>();
        await CreateEndpointsAsync(ns, "b");
        Assert.Equal(HttpStatusCode.OK, (await PatchLabelAsync($"{EndpointsPath(ns)}/a", "v", "2")).Code);

        var list = await GetJsonAsync($"{EndpointsPath(ns)}?resourceVersionMatch=Exact&resourceVersion={r}");
        Assert.Equal(r, list["metadata"]!["resourceVersion"]!.GetValue<string>());
        Assert.Equal(["a"], Names(list));
        var item = list["items"]![0]!;
        Assert.Equal("1", item["metadata"]!["labels"]!["v"]!.GetValue<string>());
        Assert.Equal(a.Metadata.ResourceVersion, item["metadata"]!["resourceVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task ResourceVersionMatchExactWithoutAVersionIs422()
    {
        // Kubernetes forbids resourceVersionMatch without resourceVersion (kube-apiserver answers 422 Invalid for ListOptions).
        var ns = await cp.NewNamespaceAsync();
        var status = await ApiClient.StatusAsync(await Api.Http.GetAsync($"{EndpointsPath(ns)}?resourceVersionMatch=Exact"), 422);
        Assert.Contains("resourceVersionMatch", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownResourceVersionMatchIs422()
    {
        // Kubernetes supports only Exact and NotOlderThan as resourceVersionMatch (kube-apiserver answers 422 Invalid for ListOptions).
        var ns = await cp.NewNamespaceAsync();
        var status = await ApiClient.StatusAsync(await Api.Http.GetAsync($"{EndpointsPath(ns)}?resourceVersionMatch=Bogus&resourceVersion=1"), 422);
        Assert.Contains("resourceVersionMatch", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AQuietWatchThatAsksForBookmarksGetsOneAtTheKindsLatestVersion()
    {
        // Kubernetes: with allowWatchBookmarks=true a quiet watch gets BOOKMARK events (only kind, apiVersion and metadata.resourceVersion) that advance past the kind's writes elsewhere.
        var quiet = await cp.NewNamespaceAsync();
        var busy = await cp.NewNamespaceAsync();
        var from = Version(await GetJsonAsync(EndpointsPath(quiet)));
        using var cts = new CancellationTokenSource(Eventually.DefaultTimeout);
        using var watch = await WatchStream.OpenAsync(Api, $"{EndpointsPath(quiet)}?watch=true&allowWatchBookmarks=true&resourceVersion={from}", cts.Token);

        long written = 0;
        for (var i = 0; i < 3; i++)
        {
            written = Version((await CreateEndpointsAsync(busy, $"e{i}")).Metadata.ResourceVersion);
        }

        var bookmark = await NextBookmarkAtLeastAsync(watch, written, from, cts.Token);
        Assert.True(bookmark >= written);
    }

    [Fact]
    public async Task AWatchThatDoesNotAskForBookmarksGetsNoneBeforeItsFirstEvent()
    {
        // Kubernetes: BOOKMARK events go only to watches that set allowWatchBookmarks=true.
        var quiet = await cp.NewNamespaceAsync();
        var busy = await cp.NewNamespaceAsync();
        var from = Version(await GetJsonAsync(EndpointsPath(quiet)));
        using var cts = new CancellationTokenSource(Eventually.DefaultTimeout * 2);
        using var plain = await WatchStream.OpenAsync(Api, $"{EndpointsPath(quiet)}?watch=true&resourceVersion={from}", cts.Token);
        using var withBookmarks = await WatchStream.OpenAsync(Api, $"{EndpointsPath(quiet)}?watch=true&allowWatchBookmarks=true&resourceVersion={from}", cts.Token);

        long written = 0;
        for (var i = 0; i < 3; i++)
        {
            written = Version((await CreateEndpointsAsync(busy, $"e{i}")).Metadata.ResourceVersion);
        }
        // Once the watch that asked for bookmarks got one, the plain watch has had its chance to get one too.
        using (var bookmarkDeadline = CancellationTokenSource.CreateLinkedTokenSource(cts.Token))
        {
            bookmarkDeadline.CancelAfter(Eventually.DefaultTimeout);
            await NextBookmarkAtLeastAsync(withBookmarks, written, from, bookmarkDeadline.Token);
        }
        var created = await CreateEndpointsAsync(quiet, "x");

        var first = await plain.NextAsync(cts.Token);
        Assert.Equal("ADDED", first["type"]!.GetValue<string>());
        Assert.Equal("x", first["object"]!["metadata"]!["name"]!.GetValue<string>());
        Assert.Equal(created.Metadata.ResourceVersion, first["object"]!["metadata"]!["resourceVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task ListResourceVersionIsAtLeastTheLastAcknowledgedWrite()
    {
        // Kubernetes: a list without resourceVersion is a consistent (quorum) read: it reflects every write already acknowledged.
        var ns = await cp.NewNamespaceAsync();
        for (var i = 0; i < 10; i++)
        {
            var name = $"e{i}";
            var created = await CreateEndpointsAsync(ns, name);
            var list = await GetJsonAsync(EndpointsPath(ns));
            Assert.True(Version(list) >= Version(created.Metadata.ResourceVersion), $"the list is at {Version(list)}, older than the create at {created.Metadata.ResourceVersion}");
            Assert.Contains(name, Names(list));

            var patched = await ApiClient.ReadAsync<Endpoints>(await Api.SendAsync(HttpMethod.Patch, $"{EndpointsPath(ns)}/{name}", """{"metadata":{"labels":{"p":"1"}}}""", "application/merge-patch+json"), HttpStatusCode.OK);
            list = await GetJsonAsync(EndpointsPath(ns));
            Assert.True(Version(list) >= Version(patched.Metadata.ResourceVersion), $"the list is at {Version(list)}, older than the patch at {patched.Metadata.ResourceVersion}");
            var item = list["items"]!.AsArray().Single(o => o!["metadata"]!["name"]!.GetValue<string>() == name)!;
            Assert.Equal(patched.Metadata.ResourceVersion, item["metadata"]!["resourceVersion"]!.GetValue<string>());
        }

        // A cluster-scoped kind too.
        var nsName = $"c-{Guid.NewGuid().ToString("N")[..8]}";
        var ns2 = await Api.CreateAsync("/api/v1/namespaces", new Namespace { Metadata = new ObjectMeta { Name = nsName } });
        var namespaces = await GetJsonAsync("/api/v1/namespaces");
        Assert.True(Version(namespaces) >= Version(ns2.Metadata.ResourceVersion), $"the namespace list is at {Version(namespaces)}, older than the create at {ns2.Metadata.ResourceVersion}");
        Assert.Contains(nsName, Names(namespaces));
    }
}
