using System.Text.Json;
using System.Text.Json.Nodes;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.ControlPlane;

[Collection(ControlPlaneCollection.Name)]
public sealed class WatchTests(ControlPlaneFixture cp)
{
    private ApiClient Api => cp.Api;

    /// <summary>Reads watch events (one JSON object per line) until <paramref name="count"/> arrived.</summary>
    private async Task<List<JsonObject>> ReadEventsAsync(string url, int count)
    {
        using var cts = new CancellationTokenSource(Eventually.DefaultTimeout);
        using var response = await Api.Http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        var events = new List<JsonObject>();
        while (events.Count < count && await reader.ReadLineAsync(cts.Token) is { } line)
        {
            events.Add(JsonNode.Parse(line)!.AsObject());
        }
        return events;
    }

    [Fact]
    public async Task WatchResumesFromAResourceVersion()
    {
        var ns = await cp.NewNamespaceAsync();
        var created = await Api.CreateAsync($"/api/v1/namespaces/{ns}/endpoints", new Endpoints { Metadata = new ObjectMeta { Name = "a" } });
        await Api.SendAsync(HttpMethod.Patch, $"/api/v1/namespaces/{ns}/endpoints/a", """{"metadata":{"labels":{"x":"1"}}}""", "application/merge-patch+json");
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/endpoints", new Endpoints { Metadata = new ObjectMeta { Name = "b" } });
        await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/endpoints/a");

        var events = await ReadEventsAsync($"/api/v1/namespaces/{ns}/endpoints?watch=true&resourceVersion={created.Metadata.ResourceVersion}", 3);
        Assert.Equal(["MODIFIED", "ADDED", "DELETED"], events.Select(e => e["type"]!.GetValue<string>()).ToArray());
        Assert.Equal(["a", "b", "a"], events.Select(e => e["object"]!["metadata"]!["name"]!.GetValue<string>()).ToArray());
        var versions = events.Select(e => long.Parse(e["object"]!["metadata"]!["resourceVersion"]!.GetValue<string>())).ToList();
        Assert.Equal(versions.Order(), versions);
    }

    [Fact]
    public async Task WatchWithoutAVersionStartsWithTheCurrentObjectsAndFollowsLabels()
    {
        var ns = await cp.NewNamespaceAsync();
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/endpoints", new Endpoints { Metadata = new ObjectMeta { Name = "a", Labels = new Dictionary<string, string> { ["team"] = "x" } } });
        using var cts = new CancellationTokenSource(Eventually.DefaultTimeout);
        using var response = await Api.Http.GetAsync($"/api/v1/namespaces/{ns}/endpoints?watch=1&labelSelector=team%3Dx", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        async Task<string> NextTypeAsync() => JsonNode.Parse((await reader.ReadLineAsync(cts.Token))!)!["type"]!.GetValue<string>();

        // The watch is established once the current object arrives as ADDED.
        Assert.Equal("ADDED", await NextTypeAsync());
        // The object leaves the selector (DELETED for this watch), then comes back (ADDED).
        await Api.SendAsync(HttpMethod.Patch, $"/api/v1/namespaces/{ns}/endpoints/a", """{"metadata":{"labels":{"team":"y"}}}""", "application/merge-patch+json");
        Assert.Equal("DELETED", await NextTypeAsync());
        await Api.SendAsync(HttpMethod.Patch, $"/api/v1/namespaces/{ns}/endpoints/a", """{"metadata":{"labels":{"team":"x"}}}""", "application/merge-patch+json");
        Assert.Equal("ADDED", await NextTypeAsync());
    }

    [Fact]
    public async Task AWatchFromATooOldVersionGets410()
    {
        var ns = await cp.NewNamespaceAsync();
        var first = await Api.CreateAsync($"/api/v1/namespaces/{ns}/endpoints", new Endpoints { Metadata = new ObjectMeta { Name = "a" } });
        // The test fixture keeps 200 changes per kind: make more.
        for (var i = 0; i < 220; i++)
        {
            await Api.SendAsync(HttpMethod.Patch, $"/api/v1/namespaces/{ns}/endpoints/a", "{\"metadata\":{\"labels\":{\"n\":\"" + i + "\"}}}", "application/merge-patch+json");
        }
        var events = await ReadEventsAsync($"/api/v1/namespaces/{ns}/endpoints?watch=true&resourceVersion={first.Metadata.ResourceVersion}", 1);
        var error = Assert.Single(events);
        Assert.Equal("ERROR", error["type"]!.GetValue<string>());
        var status = error["object"].Deserialize<ApiStatus>(Serialization.ResourceJson.Lenient)!;
        Assert.Equal(410, status.Code);
        Assert.Equal(StatusReason.Expired, status.Reason);
        Assert.StartsWith($"too old resource version: {first.Metadata.ResourceVersion} (", status.Message, StringComparison.Ordinal);

        var bad = await ApiClient.StatusAsync(await Api.Http.GetAsync($"/api/v1/namespaces/{ns}/endpoints?watch=true&resourceVersion=abc"), 400);
        Assert.Contains("resourceVersion", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListsFilterByFieldSelector()
    {
        var ns = await cp.NewNamespaceAsync();
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("one", nodeSelector: new() { ["none"] = "x" }));
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("two", nodeSelector: new() { ["none"] = "x" }));
        var list = await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods?fieldSelector=metadata.name%3Dtwo");
        Assert.Equal("two", Assert.Single(list).Metadata.Name);
        Assert.Equal(2, (await Api.ListAsync<Pod>($"/api/v1/pods?fieldSelector=status.phase%3DPending,metadata.namespace%3D{ns}")).Count);
        Assert.Empty(await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods?fieldSelector=spec.nodeName%3Dsomewhere"));
    }
}
