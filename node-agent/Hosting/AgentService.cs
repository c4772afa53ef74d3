using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.NodeAgent.Runtime.Containerd;

namespace Orchestrator.NodeAgent.Hosting;

/// <summary>Runs this process's node agent, or with the fake runtime its hollow nodes.</summary>
public sealed partial class AgentService(
    IOptions<NodeAgentOptions> options,
    IClusterClient client,
    TimeProvider time,
    ILoggerFactory loggers) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var logger = loggers.CreateLogger("Orchestrator.NodeAgent");
        // One node per process: the agent's credentials name one node, and the node authorizer
        // lets it act for that node only (simulated fleets run in-process, see the benchmarks).
        List<string> names = [o.NodeName];
        var runtimeFor = await CreateRuntimeFactoryAsync(o, stoppingToken);
        await using var group = new NodeAgentGroup(names, o, client, runtimeFor, time, logger);
        await group.StartAsync(stoppingToken);
        LogStarted(logger, names.Count, o.Runtime);
        try
        {
            await Task.Delay(Timeout.Infinite, stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The fake runtime gives each hollow node its own; containerd is one per agent
    /// (the options allow only one node with it), connected before the node registers so that
    /// the node reports containerd's version.</summary>
    private async Task<Func<string, IContainerRuntime>> CreateRuntimeFactoryAsync(NodeAgentOptions o, CancellationToken cancellationToken)
    {
        if (o.Runtime == "fake")
        {
            return _ => new FakeRuntime(time);
        }
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Agent:Runtime=containerd needs Linux; use Agent:Runtime=fake.");
        }
        var runtime = await ContainerdRuntime.CreateAsync(o, time, loggers.CreateLogger<ContainerdRuntime>(), cancellationToken);
        return _ => runtime;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Started {Count} node agent(s) with the {Runtime} runtime")]
    private static partial void LogStarted(ILogger logger, int count, string runtime);
}
