using System.Diagnostics;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;
using Xunit.Abstractions;
using static Orchestrator.Tests.Cluster.ClusterTestSupport;

namespace Orchestrator.Tests.Cluster;

/// <summary>
/// Every silo killed at once and the cluster started again, on the same ports and then on new
/// ones: it serves again within seconds (the dead silos' membership rows do not hold the new
/// ones back) with everything it had accepted, and with the same CA and admin token.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterRestartTests(ClusterStoresFixture stores, ITestOutputHelper output)
{
    [Fact]
    public async Task AWholeClusterKilledAndRestartedServesAgainWithEverything()
    {
        var phases = new Phases(output);
        await using var cluster = await stores.StartClusterAsync(3, output);
        phases.Log("3 silos ready");
        await RunAsync(cluster, output, async () =>
        {
            var api = Api(cluster.Silos[0]);
            await CreateEventuallyAsync(api, "/api/v1/namespaces", new Namespace { Metadata = new ObjectMeta { Name = "keep" } });
            for (var i = 1; i <= 3; i++)
            {
                await CreateEventuallyAsync(api, "/api/v1/namespaces/keep/services", ClusterIpService($"svc{i}"));
            }
            await CreateEventuallyAsync(api, "/apis/apps/v1/namespaces/keep/deployments", Manifests.Deployment("web", 2));
            var before = await ListEventuallyAsync<Service>(api, "/api/v1/namespaces/keep/services");
            // Silos started together agree on one CA and admin token (the first stored wins).
            var credentials = Assert.Single(cluster.Silos.Select(s => Kubeconfig.Read(s.KubeconfigPath)).Select(k => (k.CaPem, k.Token)).Distinct());

            foreach (var samePorts in new[] { true, false })
            {
                var ports = cluster.Silos.Select(s => (s.HttpPort, s.SiloPort, s.GatewayPort)).ToList();
                await Task.WhenAll(cluster.Silos.Select(cluster.KillAsync));
                var restarted = Stopwatch.StartNew();
                var silos = ports.Select(p => cluster.StartSilo(samePorts ? p : null)).ToList();

                var first = await CreateEventuallyAsync(Api(silos[0]), "/api/v1/namespaces", new Namespace { Metadata = new ObjectMeta { Name = $"after-{(samePorts ? "same" : "new")}-ports" } });
                phases.Log($"restarted on {(samePorts ? "the same" : "new")} ports: first write accepted {restarted.ElapsedMilliseconds} ms after the silos were started");
                await cluster.WaitReadyAsync();
                phases.Log($"all 3 silos serve, {restarted.ElapsedMilliseconds} ms after start");

                var after = await ListEventuallyAsync<Service>(Api(silos[2]), "/api/v1/namespaces/keep/services");
                Assert.Equal(before.Select(s => (s.Metadata.Uid, s.Metadata.ResourceVersion, s.Spec.ClusterIP)), after.Select(s => (s.Metadata.Uid, s.Metadata.ResourceVersion, s.Spec.ClusterIP)));
                var deployment = await Api(silos[1]).GetAsync<Deployment>("/apis/apps/v1/namespaces/keep/deployments/web");
                Assert.Equal(2, deployment.Spec.Replicas);
                Assert.NotNull(first.Metadata.Uid);
                Assert.All(silos, s => Assert.Equal(credentials, (Kubeconfig.Read(s.KubeconfigPath).CaPem, Kubeconfig.Read(s.KubeconfigPath).Token)));
            }
        });
    }
}
