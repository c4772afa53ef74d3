using System.Net;
using System.Runtime.Versioning;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Containerd;

/// <summary>An agent in its own process, killed with SIGKILL and started again: it adopts the
/// containers it was running (no duplicates), removes what belongs to no pod (no orphans), and
/// finishes deleting a pod that was deleted while it was down.</summary>
[Collection(ContainerdCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class AgentRestartTests(ContainerdFixture fixture) : ContainerdTestBase(fixture)
{
    [Fact]
    public async Task KilledAgentReadoptsItsContainersAndCleansUpOnReturn()
    {
        var options = Fixture.NodeOptions("b");
        var ctr = Fixture.Containerd;
        var image = await ctr.ImportTestImageAsync(options.ContainerdNamespace);
        var agent = AgentProcess.Start(options, Fixture.ControlPlane.GatewayPort, Fixture.ControlPlane.ClusterId, Fixture.ControlPlane.Join);
        try
        {
            await Fixture.WaitNodeReadyAsync(options.NodeName, TimeSpan.FromSeconds(60));
            var ns = await NewNamespaceAsync();
            var keep = await CreatePodAsync(ns, PodOn(options.NodeName, "keep", Busybox("main", "sleep", "3600")));
            var gone = await CreatePodAsync(ns, PodOn(options.NodeName, "gone", Busybox("main", "sleep", "3600")));
            var keepId = ContainerId(await WaitPodAsync(ns, "keep", p => IsRunning(p, "main"), "running", 60), "main");
            await WaitPodAsync(ns, "gone", p => IsRunning(p, "main"), "running", 60);
            Assert.Equal(2, (await ContainersAsync(options.ContainerdNamespace)).Count);

            await agent.KillAsync();
            // While the agent is down: a pod is deleted, and a stray container appears that
            // belongs to no pod (as if left by an earlier life of the node).
            await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/pods/gone");
            var strayUid = Guid.NewGuid().ToString();
            await ctr.CtrAsync(options.ContainerdNamespace, "run", "--detach",
                "--label", $"io.orchestrator.pod.uid={strayUid}", "--label", "io.orchestrator.pod.namespace=nowhere",
                "--label", "io.orchestrator.pod.name=stray", "--label", "io.orchestrator.container.name=main",
                "--label", "io.orchestrator.container.attempt=0", image, "stray-0", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done");
            // The killed agent's containers kept running.
            Assert.Equal(3, (await ContainersAsync(options.ContainerdNamespace)).Count);

            agent = AgentProcess.Start(options, Fixture.ControlPlane.GatewayPort, Fixture.ControlPlane.ClusterId, Fixture.ControlPlane.Join);
            await WaitPodGoneAsync(ns, "gone", 60);
            await Eventually.True(async () => (await ContainersAsync(options.ContainerdNamespace)).SequenceEqual([keepId]),
                "only keep's container left", TimeSpan.FromSeconds(30));
            var pod = await WaitPodAsync(ns, "keep", p => IsRunning(p, "main"), "still running");
            Assert.Equal(keepId, ContainerId(pod, "main"));
            Assert.Equal(0, StatusOf(pod, "main")!.RestartCount);
            Assert.Equal([keep.Metadata.Uid!], Directory.EnumerateFiles(options.NetnsDirectory).Select(Path.GetFileName).ToList());
            Assert.Equal([keep.Metadata.Uid + ".json"], Directory.EnumerateFiles(Path.Combine(options.DataDirectory, "sandboxes")).Select(Path.GetFileName).ToList());

            // Clean up while the agent runs, so it stops and removes the pod's containers.
            await DisposeAsync();
            await Eventually.True(async () => (await ContainersAsync(options.ContainerdNamespace)).Count == 0, "no containers", TimeSpan.FromSeconds(30));
            Assert.Empty(Directory.EnumerateFiles(options.NetnsDirectory));
        }
        catch (Exception ex) when (ex is TimeoutException or Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"{ex.Message}\nagent output:\n{Tail(agent.Output)}", ex);
        }
        finally
        {
            await agent.DisposeAsync();
            await Api.SendAsync(HttpMethod.Delete, $"/api/v1/nodes/{options.NodeName}");
        }
    }

    private async Task<List<string>> ContainersAsync(string ns) =>
        (await Fixture.Containerd.CtrAsync(ns, "containers", "list", "--quiet"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order().ToList();

    private static string Tail(string text) => string.Join('\n', text.Split('\n').TakeLast(60));
}
