using Microsoft.Data.Sqlite;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>The embedded profile as a user runs it: a real silo process, killed with SIGKILL.</summary>
public sealed class EmbeddedRestartTests
{
    [Fact]
    public async Task KillNineLosesNoAcceptedWriteAndControllersResumeOnTheirOwn()
    {
        using var data = new TempDirectory("orch-restart");
        await using var silo = new EmbeddedSiloProcess(data.Path);
        await silo.StartAsync();
        using var http = silo.NewHttpClient();
        var api = new ApiClient(http);

        await api.CreateAsync("/api/v1/namespaces", new Namespace { Metadata = new ObjectMeta { Name = "app" } });
        await api.CreateAsync("/apis/apps/v1/namespaces/app/deployments", Manifests.Deployment("web", 2));
        await api.CreateAsync("/api/v1/namespaces/app/services", new Service
        {
            Metadata = new ObjectMeta { Name = "web" },
            Spec = new ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "web" }, Ports = [new ServicePort { Port = 80 }] },
        });
        await Eventually.True(async () => (await api.ListAsync<Pod>("/api/v1/namespaces/app/pods")).Count == 2, "two pods");
        var before = await SnapshotAsync(api);
        // A write after a watcher's last version, acknowledged just before the crash.
        var watchedUpTo = (await api.GetAsync<System.Text.Json.Nodes.JsonObject>("/api/v1/namespaces/app/endpoints"))["metadata"]!["resourceVersion"]!.GetValue<string>();
        await api.CreateAsync("/api/v1/namespaces/app/endpoints", new Endpoints { Metadata = new ObjectMeta { Name = "late" } });

        await silo.Kill9Async();

        // A write that was accepted just before the crash but never acted upon: the replica
        // count went up in storage, and no controller saw it.
        await using (var db = new SqliteConnection($"Data Source={Path.Combine(data.Path, "orchestrator.db")}"))
        {
            await db.OpenAsync();
            var cmd = db.CreateCommand();
            cmd.CommandText = "UPDATE objects SET payload = CAST(json_set(CAST(payload AS TEXT), '$.spec.replicas', 4) AS BLOB) WHERE kind = 'deployments.apps'";
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }

        await using var restarted = new EmbeddedSiloProcess(data.Path);
        await restarted.StartAsync();
        using var http2 = restarted.NewHttpClient();
        var api2 = new ApiClient(http2);

        // Every object is back with its uid and resourceVersion.
        var after = await SnapshotAsync(api2);
        foreach (var (key, (uid, rv)) in before)
        {
            Assert.True(after.TryGetValue(key, out var now), $"{key} is missing after the restart");
            Assert.Equal(uid, now.Uid);
            if (!key.StartsWith("deployments/", StringComparison.Ordinal) && !key.StartsWith("replicasets/", StringComparison.Ordinal))
            {
                Assert.Equal(rv, now.ResourceVersion);
            }
        }

        // A watch resuming from before the crash is older than the new silo's cache, and is served
        // from the store's feed: it gets the write it missed, not 410.
        using (var cts = new CancellationTokenSource(Eventually.DefaultTimeout))
        using (var watch = await http2.GetAsync($"/api/v1/namespaces/app/endpoints?watch=true&resourceVersion={watchedUpTo}", HttpCompletionOption.ResponseHeadersRead, cts.Token))
        using (var reader = new StreamReader(await watch.Content.ReadAsStreamAsync(cts.Token)))
        {
            var ev = System.Text.Json.Nodes.JsonNode.Parse((await reader.ReadLineAsync(cts.Token))!)!;
            Assert.Equal("ADDED", ev["type"]!.GetValue<string>());
            Assert.Equal("late", ev["object"]!["metadata"]!["name"]!.GetValue<string>());
        }

        // Without any client call, the controllers pick up where they were.
        await Eventually.True(async () => (await api2.ListAsync<Pod>("/api/v1/namespaces/app/pods")).Count == 4, "the deployment to reach 4 pods after the restart", TimeSpan.FromSeconds(30));
        var rs = Assert.Single(await api2.ListAsync<ReplicaSet>("/apis/apps/v1/namespaces/app/replicasets"));
        Assert.Equal(4, rs.Spec.Replicas);

        // resourceVersions (each kind has its own sequence) keep growing across the restart.
        var maxBefore = before.Where(b => b.Key.StartsWith("endpoints/", StringComparison.Ordinal)).Max(b => long.Parse(b.Value.ResourceVersion));
        var fresh = await api2.CreateAsync("/api/v1/namespaces/app/endpoints", new Endpoints { Metadata = new ObjectMeta { Name = "later" } });
        Assert.True(long.Parse(fresh.Metadata.ResourceVersion!) > maxBefore);
    }

    private static async Task<Dictionary<string, (string Uid, string ResourceVersion)>> SnapshotAsync(ApiClient api)
    {
        var result = new Dictionary<string, (string, string)>();
        async Task AddAsync<T>(string path, string plural) where T : IResource
        {
            foreach (var o in await api.ListAsync<T>(path))
            {
                result[$"{plural}/{o.Metadata.Namespace}/{o.Metadata.Name}"] = (o.Metadata.Uid!, o.Metadata.ResourceVersion!);
            }
        }
        await AddAsync<Namespace>("/api/v1/namespaces", "namespaces");
        await AddAsync<Deployment>("/apis/apps/v1/deployments", "deployments");
        await AddAsync<ReplicaSet>("/apis/apps/v1/replicasets", "replicasets");
        await AddAsync<Pod>("/api/v1/pods", "pods");
        await AddAsync<Service>("/api/v1/services", "services");
        await AddAsync<Endpoints>("/api/v1/endpoints", "endpoints");
        return result;
    }
}
