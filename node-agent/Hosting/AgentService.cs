using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.NodeAgent.Runtime;

namespace Orchestrator.NodeAgent.Hosting;

/// <summary>Runs this process's node agent, or with the fake runtime its hollow nodes.</summary>
public sealed partial class AgentService(
    IOptions<NodeAgentOptions> options,
    IClusterClient client,
    IServiceProvider services,
    TimeProvider time,
    ILoggerFactory loggers) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var logger = loggers.CreateLogger("Orchestrator.NodeAgent");
        var names = o.HollowNodes == 1 ? [o.NodeName] : Enumerable.Range(0, o.HollowNodes).Select(i => $"{o.NodeName}-{i}").ToList();
        await using var group = new NodeAgentGroup(names, o, client, _ => CreateRuntime(o), time, logger);
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

    private IContainerRuntime CreateRuntime(NodeAgentOptions o) => o.Runtime switch
    {
        "fake" => new FakeRuntime(time),
        _ => services.GetService(typeof(IContainerRuntime)) as IContainerRuntime
            ?? throw new InvalidOperationException("Agent:Runtime=containerd is not available in this build; use Agent:Runtime=fake."),
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Started {Count} node agent(s) with the {Runtime} runtime")]
    private static partial void LogStarted(ILogger logger, int count, string runtime);
}
