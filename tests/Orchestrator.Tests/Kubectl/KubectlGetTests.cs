using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using CliWrap;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Kubectl;

/// <summary>
/// The real kubectl's get against a real control plane: the server answers kubectl's request for
/// a Table with the columns Kubernetes prints for each kind, so what kubectl shows is what it
/// shows against Kubernetes.
/// </summary>
[Collection(ControlPlaneCollection.Name)]
public sealed partial class KubectlGetTests(ControlPlaneFixture cp) : IDisposable
{
    private readonly KubectlRunner _kubectl = new(cp.KubeconfigPath);

    public void Dispose() => _kubectl.Dispose();

    [Fact]
    public async Task GetPodsDeploymentsAndWidePodsPrintKubernetesColumns()
    {
        var ns = await cp.NewNamespaceAsync("kget");
        var node = $"kget-{Guid.NewGuid().ToString("N")[..6]}";
        await cp.StartFakeNodesAsync([node]);
        // On this test's own node, so the wide columns name it.
        var pod = Manifests.Template("web", "busybox:1", null).Spec with { NodeSelector = new Dictionary<string, string> { ["kubernetes.io/hostname"] = node } };
        await cp.Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 2, pod));
        await Eventually.True(async () => (await cp.Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/web")).Status?.AvailableReplicas == 2, "the deployment to be available", TimeSpan.FromSeconds(60));

        var pods = Table(await _kubectl.CheckAsync("get", "pods", "-n", ns));
        var wide = Table(await _kubectl.CheckAsync("get", "pods", "-n", ns, "-o", "wide"));
        var deployments = Table(await _kubectl.CheckAsync("get", "deployments", "-n", ns));
        var replicaSets = Table(await _kubectl.CheckAsync("get", "replicasets", "-n", ns));

        Assert.Equal(["NAME", "READY", "STATUS", "RESTARTS", "AGE"], pods[0]);
        Assert.Equal(2, pods.Count - 1);
        Assert.All(pods.Skip(1), row =>
        {
            Assert.StartsWith("web-", row[0], StringComparison.Ordinal);
            Assert.Equal(["1/1", "Running", "0"], row[1..4]);
            Assert.Matches(AgePattern(), row[4]);
        });
        Assert.Equal(["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"], wide[0]);
        Assert.All(wide.Skip(1), row => Assert.Equal([node, "<none>", "<none>"], row[6..9]));
        Assert.Equal(["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], deployments[0]);
        Assert.Equal(["web", "2/2", "2", "2"], deployments[1][..4]);
        Assert.Equal(["NAME", "DESIRED", "CURRENT", "READY", "AGE"], replicaSets[0]);
        Assert.Equal(["2", "2", "2"], replicaSets[1][1..4]);
    }

    [Fact]
    public async Task GetNodesPrintsStatusRolesAndVersion()
    {
        var node = $"knode-{Guid.NewGuid().ToString("N")[..6]}";
        await cp.StartFakeNodesAsync([node]);
        await Eventually.True(async () => (await cp.Api.GetAsync<Node>($"/api/v1/nodes/{node}")).IsReady(), "the node to be Ready");

        var nodes = Table(await _kubectl.CheckAsync("get", "nodes", node));
        var wide = await _kubectl.CheckAsync("get", "nodes", node, "-o", "wide");

        Assert.Equal(["NAME", "STATUS", "ROLES", "AGE", "VERSION"], nodes[0]);
        Assert.Equal([node, "Ready", "<none>"], nodes[1][..3]);
        Assert.Contains("INTERNAL-IP", wide, StringComparison.Ordinal);
        Assert.Contains("CONTAINER-RUNTIME", wide, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetServicesEventsAndNamespacesPrintKubernetesColumns()
    {
        var ns = await cp.NewNamespaceAsync("ksvc");
        await cp.Api.CreateAsync($"/api/v1/namespaces/{ns}/services", new Service
        {
            Metadata = new ObjectMeta { Name = "web" },
            Spec = new ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "web" }, Ports = [new ServicePort { Port = 80, TargetPort = 8080 }] },
        });
        await cp.Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 1));
        await Eventually.True(async () => (await cp.Api.ListAsync<Event>($"/api/v1/namespaces/{ns}/events")).Count > 0, "an event");

        var services = Table(await _kubectl.CheckAsync("get", "svc", "-n", ns));
        var events = Table(await _kubectl.CheckAsync("get", "events", "-n", ns));
        var namespaces = Table(await _kubectl.CheckAsync("get", "ns", ns));

        Assert.Equal(["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], services[0]);
        Assert.Equal("web", services[1][0]);
        Assert.Equal("ClusterIP", services[1][1]);
        Assert.Matches(@"^\d+\.\d+\.\d+\.\d+$", services[1][2]);
        Assert.Equal(["<none>", "80/TCP"], services[1][3..5]);
        Assert.Equal(["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], events[0]);
        // LAST SEEN is two words in the header and one cell ("5s") in a row.
        Assert.Contains(events.Skip(1), row => row[1] == "Normal" && row[2] == "ScalingReplicaSet" && row[3] == "deployment/web" && row[4] == "Scaled");
        Assert.Equal(["NAME", "STATUS", "AGE"], namespaces[0]);
        Assert.Equal([ns, "Active"], namespaces[1][..2]);
    }

    [Fact]
    public async Task GetWatchPrintsARowPerChange()
    {
        var ns = await cp.NewNamespaceAsync("kwatch");
        await cp.Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("first"));
        var lines = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();

        var watch = _kubectl.Command("get", "pods", "-n", ns, "-w").WithStandardOutputPipe(PipeTarget.ToDelegate(lines.Enqueue)).ExecuteAsync(CancellationToken.None, stop.Token);
        try
        {
            await Eventually.True(() => lines.Any(l => l.StartsWith("first ", StringComparison.Ordinal)), "kubectl to list the first pod");
            await cp.Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("second"));
            await Eventually.True(() => lines.Any(l => l.StartsWith("second ", StringComparison.Ordinal)), "kubectl to print the watched pod");
        }
        finally
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await watch);
        }

        // One header: the watch's tables reuse the columns of the list.
        Assert.Single(lines, l => l.StartsWith("NAME ", StringComparison.Ordinal));
        Assert.Matches(@"^second\s+0/1\s+Pending\s+0\s+\d+s$", lines.First(l => l.StartsWith("second ", StringComparison.Ordinal)));
    }

    /// <summary>kubectl's table as rows of whitespace-separated words (header words such as
    /// "NOMINATED NODE" come out as two).</summary>
    private static List<string[]> Table(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();

    [GeneratedRegex(@"^\d+[smhdy]")]
    private static partial Regex AgePattern();
}
