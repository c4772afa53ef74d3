using System.Collections.Concurrent;
using Orchestrator.Model;

namespace Orchestrator.NodeAgent.Runtime;

/// <summary>
/// A runtime that runs nothing: sandboxes get addresses from the node's pod CIDR and
/// containers are "running" from the moment they start. It lets the whole control plane run
/// without root, and a thousand hollow nodes run in one process for scale tests.
/// </summary>
public sealed class FakeRuntime(TimeProvider time) : IContainerRuntime, Agent.IUsesPodCidr
{
    private readonly ConcurrentDictionary<string, Sandbox> _sandboxes = new();
    private readonly ConcurrentDictionary<string, RuntimeContainer> _containers = new();
    private Cidr? _podCidr;
    private long _nextIp = 2;

    public string Version => "fake://1.0";

    public bool ProbesReachContainers => false;

    /// <summary>Takes the node's pod CIDR (learned when the node registers) for pod addresses.</summary>
    public Task ConfigurePodCidrAsync(string? podCidr, CancellationToken cancellationToken)
    {
        _podCidr = Cidr.TryParse(podCidr, out var c) ? c : null;
        return Task.CompletedTask;
    }

    public Task<Sandbox> RunSandboxAsync(Pod pod, CancellationToken cancellationToken)
    {
        var sandbox = _sandboxes.GetOrAdd(pod.Metadata.Uid!, uid =>
        {
            string? ip = null;
            if (_podCidr is { } cidr)
            {
                var offset = (ulong)(Interlocked.Increment(ref _nextIp) % (long)(cidr.Size - 2)) + 1;
                ip = cidr.At(offset).ToString();
            }
            return new Sandbox(uid, pod.Key(), null, ip);
        });
        return Task.FromResult(sandbox);
    }

    public Task RemoveSandboxAsync(string podUid, CancellationToken cancellationToken)
    {
        _sandboxes.TryRemove(podUid, out _);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<Sandbox>> ListSandboxesAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<Sandbox>>(_sandboxes.Values.ToList());

    public Task EnsureImageAsync(string image, string pullPolicy, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<string> StartContainerAsync(Pod pod, Container container, Sandbox sandbox, int attempt, IReadOnlyList<AgentMount> agentMounts, CancellationToken cancellationToken)
    {
        var id = $"{pod.Metadata.Uid}-{container.Name}-{attempt}";
        _containers[id] = new RuntimeContainer(id, pod.Metadata.Uid!, pod.Key(), container.Name, attempt, container.Image ?? "",
            ContainerRunState.Running, null, null, time.GetUtcNow(), null);
        return Task.FromResult(id);
    }

    public Task StopContainerAsync(string containerId, TimeSpan grace, CancellationToken cancellationToken)
    {
        if (_containers.TryGetValue(containerId, out var c) && c.State == ContainerRunState.Running)
        {
            _containers[containerId] = c with { State = ContainerRunState.Exited, ExitCode = 0, Reason = "Completed", FinishedAt = time.GetUtcNow() };
        }
        return Task.CompletedTask;
    }

    public Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        _containers.TryRemove(containerId, out _);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<RuntimeContainer>> ListContainersAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<RuntimeContainer>>(_containers.Values.ToList());

    /// <summary>Fake containers write nothing; their log is empty.</summary>
    public Task<NodeProtocol.LogChunk> ReadLogAsync(RuntimeContainer container, NodeProtocol.LogRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(new NodeProtocol.LogChunk { Found = true, Running = container.State == ContainerRunState.Running, NextOffset = request.Offset ?? 0 });

    /// <summary>Nothing runs, so commands are not run either; only "false" fails, which lets a
    /// hollow pod simulate a failing exec probe.</summary>
    public Task<ExecResult> ExecAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken) =>
        Task.FromResult(new ExecResult(command is ["false"] ? 1 : 0, ""));
}
