using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.Selectors;

namespace Orchestrator.NodeAgent.Hosting;

/// <summary>
/// Runs the node agent, or with the fake runtime any number of hollow nodes sharing one pod
/// watch (so a thousand of them cost the control plane one watch, not a thousand).
/// </summary>
public sealed partial class AgentService(
    IOptions<NodeAgentOptions> options,
    IClusterClient client,
    IServiceProvider services,
    TimeProvider time,
    ILoggerFactory loggers) : BackgroundService
{
    private readonly Dictionary<string, Agent.NodeAgent> _agents = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var logger = loggers.CreateLogger("Orchestrator.NodeAgent");
        using var probeClient = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false });
        var names = o.HollowNodes == 1 ? [o.NodeName] : Enumerable.Range(0, o.HollowNodes).Select(i => $"{o.NodeName}-{i}").ToList();
        foreach (var name in names)
        {
            _agents[name] = new Agent.NodeAgent(name, o, client, CreateRuntime(o), time, logger, probeClient);
        }
        await Parallel.ForEachAsync(_agents.Values, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = stoppingToken },
            async (agent, ct) => await agent.StartAsync(ct));
        LogStarted(logger, _agents.Count, o.Runtime);

        var query = new ResourceQuery
        {
            Fields = FieldSelector.Parse(names.Count == 1 ? $"spec.nodeName={names[0]}" : "spec.nodeName!=", ResourceTypes.Pod),
        };
        var watch = new PodWatch(client, query, o.ResyncInterval, time, logger);
        watch.Changed += (type, pod) => _agents.TryGetValue(pod.Spec.NodeName ?? "", out var a) ? a.OnPodChangedAsync(type, pod) : Task.CompletedTask;
        watch.Listed += async pods =>
        {
            var byNode = pods.ToLookup(p => p.Spec.NodeName ?? "");
            foreach (var (name, agent) in _agents)
            {
                await agent.OnPodsListedAsync(byNode[name].ToList());
            }
        };
        try
        {
            await watch.RunAsync(stoppingToken);
        }
        finally
        {
            foreach (var agent in _agents.Values)
            {
                await agent.DisposeAsync();
            }
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
