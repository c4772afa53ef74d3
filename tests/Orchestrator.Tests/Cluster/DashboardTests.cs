using System.Net;
using System.Text.Json.Nodes;
using Orchestrator.Tests.Infrastructure;
using Xunit.Abstractions;
using static Orchestrator.Tests.Cluster.ClusterTestSupport;

namespace Orchestrator.Tests.Cluster;

/// <summary>With the Orleans dashboard turned on, every silo of a cluster serves it, and each one shows the whole
/// cluster: its page, and counters that count every silo and the grains of the control plane.</summary>
[Collection(ClusterCollection.Name)]
public sealed class DashboardTests(ClusterStoresFixture stores, ITestOutputHelper output)
{
    [Fact]
    public async Task EverySiloServesADashboardOfTheWholeCluster()
    {
        await using var cluster = await stores.StartClusterAsync(3, output, ["--Orchestrator:Dashboard=true"]);
        await RunAsync(cluster, output, async () =>
        {
            await CreateEventuallyAsync(Api(cluster.Silos[0]), "/api/v1/namespaces/default/services", ClusterIpService("seen"));
            foreach (var silo in cluster.Silos)
            {
                var http = Api(silo).Http;
                using var page = await http.GetAsync("/dashboard/");
                Assert.Equal(HttpStatusCode.OK, page.StatusCode);
                Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);

                JsonNode? counters = null;
                await Eventually.True(async () =>
                {
                    counters = JsonNode.Parse(await http.GetStringAsync("/dashboard/DashboardCounters"));
                    return counters?["totalActiveHostCount"]?.GetValue<int>() == 3
                        && counters["simpleGrainStats"]!.AsArray().Any(g => g?["grainType"]?.GetValue<string>().Contains("ServiceGrain", StringComparison.Ordinal) == true);
                }, $"the dashboard of {silo} to count 3 silos and the service grain", Slow);
                Assert.Equal(3, counters!["hosts"]!.AsArray().Count(h => h?["status"]?.GetValue<string>() == "Active"));
            }
        });
    }
}
