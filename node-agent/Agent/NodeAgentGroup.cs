using Microsoft.Extensions.Logging;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Proxy;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.Selectors;

namespace Orchestrator.NodeAgent.Agent;

/// <summary>
/// One or more node agents in one process sharing one pod watch: a real node runs a group of
/// one; hollow nodes for scale tests run a group of hundreds, which costs the control plane a
/// single watch.
/// </summary>
public sealed class NodeAgentGroup : IAsyncDisposable
{
    private readonly Dictionary<string, NodeAgent> _agents = new(StringComparer.Ordinal);
    private readonly IGrainFactory _grains;
    private readonly NodeAgentOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HttpClient _probeClient = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false });
    private readonly CancellationTokenSource _stop = new();
    private Task? _watch;
    private ServiceProxy? _proxy;

    public NodeAgentGroup(IEnumerable<string> nodeNames, NodeAgentOptions options, IGrainFactory grains, Func<string, IContainerRuntime> runtimeFor, TimeProvider time, ILogger logger)
    {
        _grains = grains;
        _options = options;
        _time = time;
        _logger = logger;
        foreach (var name in nodeNames)
        {
            _agents[name] = new NodeAgent(name, options, grains, runtimeFor(name), time, logger, _probeClient);
        }
    }

    public IReadOnlyDictionary<string, NodeAgent> Agents => _agents;

    /// <summary>The service proxy, when <see cref="NodeAgentOptions.ProxyEnabled"/>.</summary>
    public ServiceProxy? Proxy => _proxy;

    /// <summary>Registers every node, then starts the shared watch.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await Parallel.ForEachAsync(_agents.Values, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
            async (agent, ct) => await agent.StartAsync(ct));
        var names = _agents.Keys.ToList();
        var query = new ResourceQuery
        {
            Fields = FieldSelector.Parse(names.Count == 1 ? $"spec.nodeName={names[0]}" : "spec.nodeName!=", ResourceTypes.Pod),
        };
        var watch = new ResourceWatch<Pod>(_grains, query, _options.ResyncInterval, _time, _logger);
        watch.Changed += (type, pod) => _agents.TryGetValue(pod.Spec.NodeName ?? "", out var a) ? a.OnPodChangedAsync(type, pod) : Task.CompletedTask;
        watch.Listed += async pods =>
        {
            var byNode = pods.ToLookup(p => p.Spec.NodeName ?? "");
            foreach (var (name, agent) in _agents)
            {
                await agent.OnPodsListedAsync(byNode[name].ToList());
            }
        };
        _watch = Task.Run(() => watch.RunAsync(_stop.Token), CancellationToken.None);
        if (_options.ProxyEnabled && _agents.Count == 1)
        {
            _proxy = new ServiceProxy(names[0], _options, _grains, new Iptables(), _time, _logger);
            _proxy.Start();
        }
        // An agent that regains contact had its calls fail or time out: the watches' long polls
        // may be stranded on a silo that died, so they list again at once.
        foreach (var agent in _agents.Values)
        {
            agent.ContactRestored += () =>
            {
                watch.Restart();
                _proxy?.RestartWatches();
            };
        }
    }

    private int _disposed;

    /// <summary>Completes when the watch stops (it only stops when the group is disposed).</summary>
    public Task Completion => _watch ?? Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync();
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }
        if (_watch is not null)
        {
            await _watch;
        }
        foreach (var agent in _agents.Values)
        {
            await agent.DisposeAsync();
        }
        _probeClient.Dispose();
        _stop.Dispose();
    }
}
