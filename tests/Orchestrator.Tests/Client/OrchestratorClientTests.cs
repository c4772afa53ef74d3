using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.Client;
using Orchestrator.Client.Hosting;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Client;

/// <summary>
/// The .NET client as another service uses it: its own host with <c>AddOrchestratorClient</c>,
/// connected to the silo's gateway as an Orleans client, calling grains only (no HTTP).
/// </summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class OrchestratorClientTests(ControlPlaneFixture cp) : IAsyncLifetime
{
    private IHost _host = null!;

    private IOrchestratorClient Client => _host.Services.GetRequiredService<IOrchestratorClient>();

    public async Task InitializeAsync()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Orchestrator:Profile"] = "embedded",
            ["Orchestrator:GatewayPort"] = cp.GatewayPort.ToString(CultureInfo.InvariantCulture),
            ["Orchestrator:ClusterId"] = cp.ClusterId,
            ["Orchestrator:ConnectTimeout"] = "00:00:20",
            ["Orchestrator:Kubeconfig"] = cp.KubeconfigPath,
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddOrchestratorClient(builder.Configuration);
        _host = builder.Build();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    private async Task<string> NewNamespaceAsync()
    {
        var ns = await Client.Namespaces().CreateAsync(new Namespace { Metadata = new ObjectMeta { GenerateName = "client-" } });
        return ns.Metadata.Name!;
    }

    [Fact]
    public async Task CreatesGetsWatchesScalesAndDeletesADeploymentThroughGrains()
    {
        var ns = await NewNamespaceAsync();
        var deployments = Client.Deployments(ns);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var events = Collect(deployments.WatchAsync(cancellationToken: stop.Token));

        var created = await deployments.CreateAsync(Manifests.Deployment("web", 1));
        Assert.Equal(ns, created.Metadata.Namespace);
        Assert.NotNull(created.Metadata.Uid);
        // Server-side defaults, as the HTTP API returns them.
        Assert.Equal(DeploymentStrategyType.RollingUpdate, created.Spec.Strategy?.Type);

        var read = await deployments.GetAsync("web");
        Assert.Equal(created.Metadata.Uid, read.Metadata.Uid);
        Assert.Equal("web", Assert.Single((await deployments.ListAsync(labelSelector: null)).Items).Metadata.Name);

        var added = await NextAsync(events, e => e.Type == WatchEventType.Added, "the deployment's Added event");
        Assert.Equal(created.Metadata.Uid, added.Object.Metadata.Uid);

        var scaled = await deployments.ScaleAsync("web", 3);
        Assert.Equal(3, scaled.Spec.Replicas);
        await NextAsync(events, e => e.Type == WatchEventType.Modified && e.Object.Spec.Replicas == 3, "a Modified event with 3 replicas");
        // The controller acts on the scale: its replica set wants 3 pods.
        await Eventually.True(async () => (await Client.ReplicaSets(ns).ListAsync()).Items is [{ Spec.Replicas: 3 }], "the replica set scaled to 3");

        var deleted = await deployments.DeleteAsync("web");
        Assert.Equal(created.Metadata.Uid, deleted.Object.Metadata.Uid);
        await NextAsync(events, e => e.Type == WatchEventType.Deleted, "the deployment's Deleted event");
        Assert.Null(await deployments.FindAsync("web"));
        var missing = await Assert.ThrowsAsync<ApiException>(() => deployments.GetAsync("web"));
        Assert.Equal(404, missing.Code);
    }

    [Fact]
    public async Task AnInvalidObjectThrowsTheSameStatusAsTheHttpApi()
    {
        var ns = await NewNamespaceAsync();
        var bad = Manifests.Deployment("bad", 1, image: "");
        bad = bad with { Spec = bad.Spec with { Replicas = -1 } };

        var error = await Assert.ThrowsAsync<ApiException>(() => Client.Deployments(ns).CreateAsync(bad));

        Assert.Equal(422, error.Code);
        Assert.Equal(StatusReason.Invalid, error.Reason);
        var causes = error.Status.Details!.Causes!;
        Assert.Contains(causes, c => c.Field == "spec.replicas");
        Assert.Contains(causes, c => c.Field == "spec.template.spec.containers[0].image");
        var http = await ApiClient.StatusAsync(
            await cp.Api.SendAsync(HttpMethod.Post, $"/apis/apps/v1/namespaces/{ns}/deployments", ResourceJson.ToNode(bad)!.ToJsonString()), 422);
        AssertSameStatus(http, error.Status);
    }

    [Fact]
    public async Task AStaleWriteAndANegativeScaleThrowTheApiStatus()
    {
        var ns = await NewNamespaceAsync();
        var deployments = Client.Deployments(ns);
        var created = await deployments.CreateAsync(Manifests.Deployment("web", 1));
        await deployments.PatchAsync("web", new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["tier"] = "front" } } });

        var stale = await Assert.ThrowsAsync<ApiException>(() => deployments.UpdateAsync(created with { Spec = created.Spec with { Replicas = 2 } }));
        Assert.Equal(409, stale.Code);
        Assert.Equal(StatusReason.Conflict, stale.Reason);

        var negative = await Assert.ThrowsAsync<ApiException>(() => deployments.ScaleAsync("web", -1));
        var http = await ApiClient.StatusAsync(
            await cp.Api.SendAsync(HttpMethod.Put, $"/apis/apps/v1/namespaces/{ns}/deployments/web/scale", """{"spec":{"replicas":-1}}"""), 422);
        AssertSameStatus(http, negative.Status);
    }

    [Fact]
    public async Task AWatchAsksAgainFromItsLastVersionWithoutMissingOrRepeatingAChange()
    {
        var ns = await NewNamespaceAsync();
        var endpoints = Client.Endpoints(ns);
        // Long-polls that end every 50 ms: the watch asks again dozens of times during the writes.
        endpoints.WatchPollWait = TimeSpan.FromMilliseconds(50);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var start = await endpoints.ListAsync();
        var events = Collect(endpoints.WatchAsync(resourceVersion: start.ResourceVersion.ToString(CultureInfo.InvariantCulture), cancellationToken: stop.Token));

        var written = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            var name = $"e{i % 4}";
            var obj = await endpoints.FindAsync(name) is null
                ? await endpoints.CreateAsync(new Endpoints { Metadata = new ObjectMeta { Name = name } })
                : await endpoints.PatchAsync(name, new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["n"] = i.ToString(CultureInfo.InvariantCulture) } } });
            written.Add(obj.Metadata.ResourceVersion!);
            if (i % 5 == 0)
            {
                // Let a few long-polls end with nothing to say before writing on.
                var polls = endpoints.WatchPolls;
                await Eventually.True(() => endpoints.WatchPolls >= polls + 3, "three more long-polls of the watch");
            }
        }

        var seen = new List<string>();
        while (seen.Count < written.Count)
        {
            seen.Add((await NextAsync(events, _ => true, $"change {seen.Count + 1} of {written.Count}")).Object.Metadata.ResourceVersion!);
        }
        Assert.Equal(written, seen);
    }

    [Fact]
    public async Task AWatchFromAVersionTheServerNoLongerKeepsListsAgain()
    {
        var ns = await NewNamespaceAsync();
        var endpoints = Client.Endpoints(ns);
        var first = await endpoints.CreateAsync(new Endpoints { Metadata = new ObjectMeta { Name = "first" } });
        var kept = await endpoints.CreateAsync(new Endpoints { Metadata = new ObjectMeta { Name = "kept" } });
        await endpoints.PatchAsync("kept", new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["changed"] = "yes" } } });
        await endpoints.DeleteAsync("first");
        // More changes than the store keeps (Orchestrator:WatchLogCapacity is 200 in tests), so
        // the first object's version is compacted away: a watch from it is answered 410 Gone.
        var other = Client.Endpoints(await NewNamespaceAsync());
        await other.CreateAsync(new Endpoints { Metadata = new ObjectMeta { Name = "churn" } });
        for (var i = 0; i < 240; i++)
        {
            await other.PatchAsync("churn", new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["n"] = i.ToString(CultureInfo.InvariantCulture) } } });
        }
        var current = await endpoints.GetAsync("kept");

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var events = Collect(endpoints.WatchAsync(resourceVersion: first.Metadata.ResourceVersion, cancellationToken: stop.Token));

        // The re-list: what exists now, as Added, at its current version (the changes in between
        // and the deleted object, never delivered, are not replayed).
        var relisted = await NextAsync(events, _ => true, "the re-listed object");
        Assert.Equal(WatchEventType.Added, relisted.Type);
        Assert.Equal("kept", relisted.Object.Metadata.Name);
        Assert.Equal(current.Metadata.ResourceVersion, relisted.Object.Metadata.ResourceVersion);
        Assert.Equal(kept.Metadata.Uid, relisted.Object.Metadata.Uid);
        // Then the watch goes on from the list's version.
        var patched = await endpoints.PatchAsync("kept", new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["after"] = "relist" } } });
        var next = await NextAsync(events, _ => true, "the change after the re-list");
        Assert.Equal(WatchEventType.Modified, next.Type);
        Assert.Equal(patched.Metadata.ResourceVersion, next.Object.Metadata.ResourceVersion);
    }

    private static void AssertSameStatus(ApiStatus http, ApiStatus client)
    {
        Assert.Equal(http.Code, client.Code);
        Assert.Equal(http.Reason, client.Reason);
        Assert.Equal(http.Message, client.Message);
        Assert.Equal(
            http.Details?.Causes?.Select(c => (c.Field, c.Reason, c.Message)).ToList(),
            client.Details?.Causes?.Select(c => (c.Field, c.Reason, c.Message)).ToList());
    }

    private static ChannelReader<WatchEvent<T>> Collect<T>(IAsyncEnumerable<WatchEvent<T>> watch)
    {
        var channel = Channel.CreateUnbounded<WatchEvent<T>>();
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var ev in watch)
                {
                    await channel.Writer.WriteAsync(ev);
                }
                channel.Writer.Complete();
            }
            catch (Exception ex)
            {
                channel.Writer.Complete(ex is OperationCanceledException ? null : ex);
            }
        });
        return channel.Reader;
    }

    /// <summary>The next event, which must match <paramref name="expected"/>; fails on a deadline.</summary>
    private static async Task<WatchEvent<T>> NextAsync<T>(ChannelReader<WatchEvent<T>> events, Func<WatchEvent<T>, bool> expected, string what)
    {
        using var deadline = new CancellationTokenSource(Eventually.DefaultTimeout);
        while (true)
        {
            WatchEvent<T> ev;
            try
            {
                ev = await events.ReadAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Timed out after {Eventually.DefaultTimeout.TotalSeconds:0} s waiting for {what}");
            }
            if (expected(ev))
            {
                return ev;
            }
        }
    }
}
