using System.Diagnostics;
using System.Net;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;
using Orchestrator.Grains;
using Xunit.Abstractions;
using static Orchestrator.Tests.Cluster.ClusterTestSupport;

namespace Orchestrator.Tests.Cluster;

/// <summary>
/// Three silo processes on Redis and PostgreSQL lose the silo that hosts the scheduler and some
/// deployment controllers (kill -9). Another silo's API answers within seconds; nothing accepted
/// is lost or rolled back; the controllers come back on their reminders; no pod is duplicated,
/// lost or scheduled twice.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class FailoverTests(ClusterStoresFixture stores, ITestOutputHelper output)
{
    private const string Ns = "failover";

    [Fact]
    public async Task KillingTheSiloOfTheSchedulerAndDeploymentsLosesNothing()
    {
        var phases = new Phases(output);
        await using var cluster = await stores.StartClusterAsync(3, output);
        phases.Log("3 silos ready");
        await RunAsync(cluster, output, async () =>
        {
            var client = await cluster.ClientAsync();
            await using var nodes = await StartFakeNodesAsync(cluster, ["node-a", "node-b", "node-c"]);
            // The victim: the silo with the scheduler (the control plane's bootstrap activates it)
            // and some deployment controllers. Deployments are created through the victim's API:
            // Orleans' resource-optimized placement prefers the calling silo when loads are close,
            // and more are added until at least one controller lives there.
            var scheduler = client.GetGrain<ISchedulerGrain>(SchedulerGrainKeys.Default);
            var victim = await Eventually.Until(() => cluster.HostOfAsync(scheduler), "the scheduler's silo");
            var api = Api(victim);
            await CreateEventuallyAsync(api, "/api/v1/namespaces", new Namespace { Metadata = new ObjectMeta { Name = Ns } });
            var names = Enumerable.Range(1, 4).Select(i => $"web{i}").ToList();
            foreach (var name in names)
            {
                await CreateEventuallyAsync(api, $"/apis/apps/v1/namespaces/{Ns}/deployments", Manifests.Deployment(name, 3));
            }
            var services = new List<Service>();
            for (var i = 1; i <= 3; i++)
            {
                services.Add(await CreateEventuallyAsync(api, $"/api/v1/namespaces/{Ns}/services", ClusterIpService($"svc{i}")));
            }
            var onVictim = await DeploymentsOnAsync(cluster, victim, names);
            for (var extra = 1; onVictim.Count == 0; extra++)
            {
                Assert.True(extra <= 10, $"no deployment controller was placed on {victim} after {extra - 1} extra deployments");
                await CreateEventuallyAsync(api, $"/apis/apps/v1/namespaces/{Ns}/deployments", Manifests.Deployment($"extra{extra}", 1));
                onVictim = await DeploymentsOnAsync(cluster, victim, [$"extra{extra}"]);
            }
            await WaitAvailableAsync(api, Ns);
            phases.Log($"deployments available; victim {victim} has the scheduler and deployments {string.Join(", ", onVictim)}");

            var before = await SnapshotAsync(api);
            var survivors = cluster.Silos.Where(s => s != victim).ToList();
            var survivorApi = Api(survivors[0]);

            var killed = Stopwatch.StartNew();
            await cluster.KillAsync(victim);

            // Within seconds, a write through another silo succeeds: its pods need the scheduler.
            await CreateEventuallyAsync(survivorApi, $"/apis/apps/v1/namespaces/{Ns}/deployments", Manifests.Deployment("after", 2));
            phases.Log($"first write through {survivors[0]} succeeded {killed.ElapsedMilliseconds} ms after kill -9");

            // The controllers that died with the victim come back on a surviving silo by
            // themselves: nothing has called them since (lists below go through the indexes).
            foreach (var name in onVictim)
            {
                var grain = client.GetGrain<IDeploymentGrain>(ResourceTypes.Deployment.Key(Ns, name));
                var host = await Eventually.Until(() => cluster.HostOfAsync(grain), $"deployment {name}'s controller to be reactivated by its reminder", Slow);
                Assert.Contains(host, survivors);
            }
            phases.Log("the victim's deployment controllers are active again");
            await WaitAvailableAsync(survivorApi, Ns);
            phases.Log("every deployment available again");

            // One scheduler, on a survivor.
            Assert.Contains(await cluster.HostOfAsync(scheduler), survivors);
            Assert.Equal(1, await client.GetGrain<IManagementGrain>(0).GetGrainActivationCount((GrainReference)scheduler));

            var after = await SnapshotAsync(Api(survivors[1]));
            AssertNothingLost(before, after);

            // Controllers work: scale one of the victim's deployments through a survivor.
            var scaled = onVictim[0];
            var deployment = await survivorApi.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{Ns}/deployments/{scaled}");
            using var put = await survivorApi.SendAsync(HttpMethod.Put, $"/apis/apps/v1/namespaces/{Ns}/deployments/{scaled}",
                Json(deployment with { Spec = deployment.Spec with { Replicas = 5 } }));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            await WaitAvailableAsync(survivorApi, Ns);
            var pods = await survivorApi.ListAsync<Pod>($"/api/v1/namespaces/{Ns}/pods?labelSelector=app%3D{scaled}");
            Assert.Equal(5, pods.Count(p => p.Metadata.DeletionTimestamp is null));
            phases.Log("scaled through a survivor");
        });
    }

    private static async Task<List<string>> DeploymentsOnAsync(LocalCluster cluster, SiloProcess silo, IEnumerable<string> names)
    {
        var client = await cluster.ClientAsync();
        var on = new List<string>();
        foreach (var name in names)
        {
            if (await cluster.HostOfAsync(client.GetGrain<IDeploymentGrain>(ResourceTypes.Deployment.Key(Ns, name))) == silo)
            {
                on.Add(name);
            }
        }
        return on;
    }

    private sealed record Snapshot(List<Deployment> Deployments, List<ReplicaSet> ReplicaSets, List<Pod> Pods, List<Service> Services, List<Event> Events);

    private static async Task<Snapshot> SnapshotAsync(ApiClient api) => new(
        await ListEventuallyAsync<Deployment>(api, $"/apis/apps/v1/namespaces/{Ns}/deployments"),
        await ListEventuallyAsync<ReplicaSet>(api, $"/apis/apps/v1/namespaces/{Ns}/replicasets"),
        await ListEventuallyAsync<Pod>(api, $"/api/v1/namespaces/{Ns}/pods"),
        await ListEventuallyAsync<Service>(api, $"/api/v1/namespaces/{Ns}/services"),
        await ListEventuallyAsync<Event>(api, $"/api/v1/namespaces/{Ns}/events"));

    private static void AssertNothingLost(Snapshot before, Snapshot after)
    {
        // Every object is still there, and none went back in time.
        AssertKept(before.Deployments, after.Deployments);
        AssertKept(before.ReplicaSets, after.ReplicaSets);
        AssertKept(before.Services, after.Services);
        AssertKept(before.Pods, after.Pods);
        // Nothing changes services after creation: they are exactly as accepted, ClusterIP included.
        Assert.Equal(before.Services.Select(s => (s.Metadata.Name, s.Metadata.ResourceVersion, s.Spec.ClusterIP)),
            after.Services.Select(s => (s.Metadata.Name, s.Metadata.ResourceVersion, s.Spec.ClusterIP)));

        // Pods: the same ones, on the same nodes; none added to the deployments that existed.
        var beforePods = before.Pods.ToDictionary(p => p.Metadata.Name!);
        foreach (var (name, pod) in beforePods)
        {
            var now = after.Pods.Single(p => p.Metadata.Name == name);
            Assert.Equal(pod.Metadata.Uid, now.Metadata.Uid);
            Assert.Equal(pod.Spec.NodeName, now.Spec.NodeName);
        }
        var oldDeployments = before.Deployments.Select(d => d.Metadata.Name).ToHashSet();
        Assert.DoesNotContain(after.Pods, p => !beforePods.ContainsKey(p.Metadata.Name!) && oldDeployments.Contains(p.Metadata.Labels?["app"]));

        // Scheduled at most once, ever: a second bind (another node) would add an event with
        // another message; a repeated one would count up.
        foreach (var pod in after.Pods)
        {
            var scheduled = after.Events.Where(e => e.InvolvedObject.Uid == pod.Metadata.Uid && e.Reason == "Scheduled").ToList();
            Assert.True(scheduled.Count <= 1 && scheduled.All(e => e.Count == 1), $"pod {pod.Metadata.Name} was scheduled more than once: {Json(scheduled)}");
        }
    }

    private static void AssertKept<T>(List<T> before, List<T> after) where T : class, IResource<T>
    {
        foreach (var obj in before)
        {
            var now = after.SingleOrDefault(a => a.Metadata.Name == obj.Metadata.Name);
            Assert.True(now is not null, $"{T.Type.Kind} {obj.Metadata.Name} was lost");
            Assert.Equal(obj.Metadata.Uid, now.Metadata.Uid);
            Assert.True(long.Parse(now.Metadata.ResourceVersion!) >= long.Parse(obj.Metadata.ResourceVersion!),
                $"{T.Type.Kind} {obj.Metadata.Name} went back from resourceVersion {obj.Metadata.ResourceVersion} to {now.Metadata.ResourceVersion}");
        }
    }
}
