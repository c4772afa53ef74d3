using Microsoft.Extensions.Logging.Abstractions;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeAgent;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.NodeProtocol;

namespace Orchestrator.Tests.NodeAgent;

[Collection(ControlPlaneCollection.Name)]
public sealed class PodWorkerTests(ControlPlaneFixture cp)
{
    /// <summary>Real containers can exit before the pass that started them reports the pod's
    /// status; with restartPolicy Always that must not read as a finished pod (which would never
    /// be restarted).</summary>
    [Fact]
    public async Task ContainerExitingRightAfterItsStartIsRestartedNotReportedFinished()
    {
        var ns = await cp.NewNamespaceAsync();
        var node = $"{ns}-n1";
        var options = new NodeAgentOptions
        {
            Runtime = "fake",
            Cpu = "4",
            Memory = "8Gi",
            NodeIP = "127.0.0.1",
            Labels = new Dictionary<string, string> { ["pod-worker-test"] = node },
            ResyncInterval = TimeSpan.FromSeconds(5),
            RestartBackoff = TimeSpan.FromMilliseconds(100),
            MaxRestartBackoff = TimeSpan.FromMilliseconds(200),
        };
        var group = new NodeAgentGroup([node], options, cp.Grains, _ => new ExitsAtOnce(new FakeRuntime(TimeProvider.System)), TimeProvider.System, NullLogger.Instance);
        await group.StartAsync(CancellationToken.None);
        try
        {
            var pod = Manifests.Pod("quick", nodeSelector: new Dictionary<string, string> { ["pod-worker-test"] = node });
            await cp.Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", pod);
            var running = await Eventually.Until(async () =>
            {
                var p = await cp.Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/quick");
                Assert.NotEqual(PodPhase.Succeeded, p.Status?.Phase);
                return p.Status?.ContainerStatuses?.FirstOrDefault()?.RestartCount >= 2 ? p : null;
            }, "two restarts");
            Assert.Equal(PodPhase.Running, running.Status!.Phase);
        }
        finally
        {
            await group.DisposeAsync();
            await cp.Api.SendAsync(HttpMethod.Delete, $"/api/v1/nodes/{node}");
        }
    }

    /// <summary>The fake runtime, except that every container exits (code 0) as soon as it starts.</summary>
    private sealed class ExitsAtOnce(FakeRuntime inner) : IContainerRuntime, IUsesPodCidr
    {
        public string Version => inner.Version;

        public bool ProbesReachContainers => inner.ProbesReachContainers;

        public Task ConfigurePodCidrAsync(string? podCidr, CancellationToken cancellationToken) => inner.ConfigurePodCidrAsync(podCidr, cancellationToken);

        public Task<Sandbox> RunSandboxAsync(Pod pod, CancellationToken cancellationToken) => inner.RunSandboxAsync(pod, cancellationToken);

        public Task RemoveSandboxAsync(string podUid, CancellationToken cancellationToken) => inner.RemoveSandboxAsync(podUid, cancellationToken);

        public Task<IReadOnlyList<Sandbox>> ListSandboxesAsync(CancellationToken cancellationToken) => inner.ListSandboxesAsync(cancellationToken);

        public Task EnsureImageAsync(string image, string pullPolicy, CancellationToken cancellationToken) => inner.EnsureImageAsync(image, pullPolicy, cancellationToken);

        public async Task<string> StartContainerAsync(Pod pod, Container container, Sandbox sandbox, int attempt, IReadOnlyList<AgentMount> agentMounts, CancellationToken cancellationToken)
        {
            var id = await inner.StartContainerAsync(pod, container, sandbox, attempt, agentMounts, cancellationToken);
            await inner.StopContainerAsync(id, TimeSpan.Zero, cancellationToken);
            return id;
        }

        public Task StopContainerAsync(string containerId, TimeSpan grace, CancellationToken cancellationToken) => inner.StopContainerAsync(containerId, grace, cancellationToken);

        public Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken) => inner.RemoveContainerAsync(containerId, cancellationToken);

        public Task<IReadOnlyList<RuntimeContainer>> ListContainersAsync(CancellationToken cancellationToken) => inner.ListContainersAsync(cancellationToken);

        public Task<LogChunk> ReadLogAsync(RuntimeContainer container, LogRequest request, CancellationToken cancellationToken) => inner.ReadLogAsync(container, request, cancellationToken);

        public Task<ExecResult> ExecAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken) => inner.ExecAsync(containerId, command, timeout, cancellationToken);
    }
}
