using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;
using Xunit.Abstractions;
using static Orchestrator.Tests.Cluster.ClusterTestSupport;

namespace Orchestrator.Tests.Cluster;

/// <summary>
/// A rolling update in the cluster profile loses the silo of its deployment controller halfway:
/// the rollout resumes where it was on a surviving silo and completes, never exceeding maxSurge
/// and never dropping below replicas - maxUnavailable available pods.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RolloutFailoverTests(ClusterStoresFixture stores, ITestOutputHelper output)
{
    private const string Ns = "rollout";
    private const int Replicas = 6;

    [Fact]
    public async Task ARolloutResumesAfterItsControllersSiloIsKilled()
    {
        await using var cluster = await stores.StartClusterAsync(3, output);
        await RunAsync(cluster, output, async () =>
        {
            var client = await cluster.ClientAsync();
            await using var nodes = await StartFakeNodesAsync(cluster, ["node-a", "node-b", "node-c"]);
            var first = Api(cluster.Silos[0]);
            await CreateEventuallyAsync(first, "/api/v1/namespaces", new Namespace { Metadata = new ObjectMeta { Name = Ns } });
            var d = Manifests.Deployment("web", Replicas, image: "v1");
            d = d with
            {
                Spec = d.Spec with
                {
                    // Slow steps (each new pod counts only after 2 s), one pod at a time each way.
                    MinReadySeconds = 2,
                    Strategy = new DeploymentStrategy { Type = DeploymentStrategyType.RollingUpdate, RollingUpdate = new RollingUpdateDeployment { MaxSurge = 1, MaxUnavailable = 1 } },
                },
            };
            await CreateEventuallyAsync(first, $"/apis/apps/v1/namespaces/{Ns}/deployments", d);
            await WaitAvailableAsync(first, Ns);
            var victim = await Eventually.Until(() => cluster.HostOfAsync(client.GetGrain<IDeploymentGrain>(ResourceTypes.Deployment.Key(Ns, "web"))), "the deployment controller's silo");
            var survivors = cluster.Silos.Where(s => s != victim).ToList();
            var api = Api(survivors[0]);
            output.WriteLine($"the deployment controller runs on {victim}");

            await using var observer = await PodObserver.StartAsync(Api(survivors[1]), Ns, (pods, now) =>
            {
                var active = pods.Where(p => p.Metadata.DeletionTimestamp is null && !p.IsTerminal()).ToList();
                if (active.Count > Replicas + 1)
                {
                    return $"{active.Count} pods exceed replicas + maxSurge = {Replicas + 1}: " + string.Join("; ", active.Select(p => $"{p.Metadata.Name} {p.Status?.Phase} ready={p.IsReady()} created={p.Metadata.CreationTimestamp:HH:mm:ss.fff}"));
                }
                var available = active.Count(p => p.IsAvailable(2, now.AddMilliseconds(250)));
                return available < Replicas - 1 ? $"only {available} available, below replicas - maxUnavailable = {Replicas - 1} at {now:HH:mm:ss.fff}: " + string.Join("; ", pods.Select(p => $"{p.Metadata.Name} {p.Status?.Phase} del={p.Metadata.DeletionTimestamp:HH:mm:ss.fff} ready={p.IsReady()} since={Conditions.Get(p.Status?.Conditions, "Ready")?.LastTransitionTime:HH:mm:ss.fff}")) : null;
            });

            var current = await api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{Ns}/deployments/web");
            var update = current with
            {
                Spec = current.Spec with
                {
                    Template = current.Spec.Template with
                    {
                        Spec = current.Spec.Template.Spec with { Containers = [current.Spec.Template.Spec.Containers[0] with { Image = "v2" }] },
                    },
                },
            };
            Assert.True((await api.SendAsync(HttpMethod.Put, $"/apis/apps/v1/namespaces/{Ns}/deployments/web", ResourceJson.SerializeToString(update))).IsSuccessStatusCode);

            // Halfway: some replicas updated, not all.
            await Eventually.True(async () => (await api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{Ns}/deployments/web")).Status?.UpdatedReplicas is >= 2 and < Replicas,
                "the rollout to be halfway", Slow);
            await cluster.KillAsync(victim);
            output.WriteLine("killed the controller's silo halfway through the rollout");

            // It completes on a survivor: every replica the new version, available; the old
            // ReplicaSet at zero; no pod twice.
            await Eventually.True(async () =>
            {
                var dep = await api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{Ns}/deployments/web");
                var pods = await api.ListAsync<Pod>($"/api/v1/namespaces/{Ns}/pods");
                return dep.Status is { UpdatedReplicas: Replicas, AvailableReplicas: Replicas, Replicas: Replicas }
                    && pods.Count == Replicas && pods.All(p => p.Spec.Containers[0].Image == "v2" && p.Status?.Phase == PodPhase.Running);
            }, "the rollout to complete after the failover", Slow);
            var sets = await api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{Ns}/replicasets");
            Assert.Equal(2, sets.Count);
            Assert.Equal(0, sets.Single(rs => rs.Spec.Template.Spec.Containers[0].Image == "v1").Spec.Replicas);
            output.WriteLine($"{observer.Events} pod events observed, watch restarted {observer.Restarts} times");
            foreach (var v in observer.Violations.Take(5))
            {
                output.WriteLine("VIOLATION " + v);
            }
            Assert.Empty(observer.Violations);
        });
    }
}
