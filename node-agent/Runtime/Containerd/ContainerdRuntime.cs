using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.NodeProtocol;

namespace Orchestrator.NodeAgent.Runtime.Containerd;

/// <summary>
/// Real containers through containerd's <c>ctr</c> CLI, in a containerd namespace of this agent's
/// own (several agents can share one containerd without seeing each other's containers).
/// Sandboxes are network namespaces set up by the CNI plugins (<see cref="PodNetwork"/>); every
/// container of a pod joins its sandbox's namespace (<c>ctr run --with-ns network:PATH</c>), as
/// Kubernetes' pause container arranges. Containers carry labels (<see cref="ContainerLabels"/>)
/// from which <see cref="ListContainersAsync"/> rebuilds everything after an agent restart.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class ContainerdRuntime : IContainerRuntime, IUsesPodCidr
{
    private readonly NodeAgentOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Ctr _ctr;
    private readonly PodNetwork _network;
    private readonly PodVolumes _volumes;
    private readonly ContainerLogs _logs;

    private ContainerdRuntime(NodeAgentOptions options, string serverVersion, TimeProvider time, ILogger logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
        _ctr = new Ctr(options.ContainerdAddress, options.ContainerdNamespace);
        _network = new PodNetwork(options, logger);
        _volumes = new PodVolumes(options);
        _logs = new ContainerLogs(Path.Combine(options.DataDirectory, "logs"));
        Version = $"containerd://{serverVersion}";
    }

    /// <summary>Connects to containerd (asking its version, which fails fast with a clear message
    /// when the socket is wrong) and prepares the agent's directories.</summary>
    public static async Task<ContainerdRuntime> CreateAsync(NodeAgentOptions options, TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        var ctr = new Ctr(options.ContainerdAddress, options.ContainerdNamespace);
        ToolResult version;
        try
        {
            version = await ctr.RunAsync(["version"], cancellationToken);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("ctr was not found; install containerd (apt-get install containerd) or use Agent:Runtime=fake.", ex);
        }
        if (!version.Succeeded)
        {
            throw new InvalidOperationException($"containerd at {options.ContainerdAddress} did not answer ({version.ErrorMessage}); start it or set Agent:ContainerdAddress.");
        }
        // "ctr version" prints the client's section, then the server's: the last Version line.
        var serverVersion = version.StandardOutput.Split('\n')
            .Select(l => l.Trim())
            .LastOrDefault(l => l.StartsWith("Version:", StringComparison.Ordinal))?["Version:".Length..].Trim() ?? "unknown";
        Directory.CreateDirectory(options.DataDirectory);
        var runtime = new ContainerdRuntime(options, serverVersion, time, logger);
        LogConnected(logger, options.ContainerdAddress, options.ContainerdNamespace, serverVersion);
        return runtime;
    }

    public bool ProbesReachContainers => true;

    public string Version { get; }

    public string Namespace => _ctr.Namespace;

    public string Address => _ctr.Address;

    public Task ConfigurePodCidrAsync(string? podCidr, CancellationToken cancellationToken)
    {
        _network.Configure(podCidr);
        return Task.CompletedTask;
    }

    public Task<Sandbox> RunSandboxAsync(Pod pod, CancellationToken cancellationToken) => _network.EnsureAsync(pod, _startGate, cancellationToken);

    public async Task RemoveSandboxAsync(string podUid, CancellationToken cancellationToken)
    {
        await _network.RemoveAsync(podUid, cancellationToken);
        await _volumes.RemoveAsync(podUid, cancellationToken);
    }

    public Task<IReadOnlyList<Sandbox>> ListSandboxesAsync(CancellationToken cancellationToken) => Task.FromResult(_network.List());

    public async Task<LogChunk> ReadLogAsync(RuntimeContainer container, LogRequest request, CancellationToken cancellationToken) =>
        await _logs.ReadAsync(_logs.PathFor(container.PodUid, container.Name, container.Attempt), request, container.State == ContainerRunState.Running, cancellationToken);

    /// <summary><c>ctr tasks exec</c> with an exec id of its own; past the timeout the ctr process
    /// is killed, and so is the exec'd process, and the result is a failure (exit code -1).</summary>
    public async Task<ExecResult> ExecAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (command.Count == 0)
        {
            return new ExecResult(-1, "no command");
        }
        var execId = $"exec-{Guid.NewGuid():N}"[..21];
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            var result = await _ctr.RunAsync(["tasks", "exec", "--exec-id", execId, containerId, .. command], deadline.Token);
            return new ExecResult(result.ExitCode, result.StandardOutput + result.StandardError);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await _ctr.RunAsync(["tasks", "kill", "--exec-id", execId, "--signal", "SIGKILL", containerId], CancellationToken.None);
            return new ExecResult(-1, $"command timed out after {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Using containerd {Version} at {Address}, namespace {Namespace}")]
    private static partial void LogConnected(ILogger logger, string address, string @namespace, string version);
}
