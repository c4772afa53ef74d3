using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Model;
using Orchestrator.NodeAgent;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.Silo.Hosting;
using Orchestrator.Tests.Infrastructure.Logging;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Infrastructure;

/// <summary>
/// A real control plane hosted in the test process: the silo (Orleans with the embedded SQLite
/// profile in a temporary directory) and its HTTP API on a free loopback port. Tests share one
/// per collection and use their own namespaces so they do not see each other's objects.
/// Fake nodes run in-process through the node agent's own code with the fake runtime.
/// </summary>
public sealed class ControlPlaneFixture : IAsyncLifetime
{
    private readonly TempDirectory _data = new("orch-cp");
    private readonly List<NodeAgentGroup> _nodeGroups = [];
    private readonly IReadOnlyList<string> _extraArgs;
    private readonly Action<IServiceCollection>? _configureServices;
    private WebApplication? _app;

    public ControlPlaneFixture()
        : this([])
    {
    }

    /// <summary>A control plane with settings of its own (e.g. a cluster CIDR), for fixtures
    /// that host one inside themselves.</summary>
    internal ControlPlaneFixture(IReadOnlyList<string> extraArgs, Action<IServiceCollection>? configureServices = null)
    {
        _extraArgs = extraArgs;
        _configureServices = configureServices;
    }

    public int HttpPort { get; } = Ports.Free();

    /// <summary>Silo-to-silo traffic (mutual TLS with silo certificates of the cluster CA).</summary>
    public int SiloPort { get; } = Ports.Free();

    /// <summary>The silo's gateway: out-of-process node agents connect here.</summary>
    public int GatewayPort { get; } = Ports.Free();

    public string ClusterId { get; } = $"test-{Guid.NewGuid():N}";

    public ApiClient Api { get; private set; } = null!;

    public IGrainFactory Grains => _app!.Services.GetRequiredService<IGrainFactory>();

    /// <summary>The silo's services (its caches, for components a test runs itself).</summary>
    public IServiceProvider Services => _app!.Services;

    public string DataDirectory => _data.Path;

    public string ApiAddress => $"https://127.0.0.1:{HttpPort}";

    /// <summary>The admin kubeconfig the silo wrote (what kubectl and the tests' clients use).</summary>
    public string KubeconfigPath => Path.Combine(_data.Path, "admin.kubeconfig");

    /// <summary>The node bootstrap token the silo wrote: how out-of-process agents join.</summary>
    public string NodeTokenPath => Path.Combine(_data.Path, "node-token");

    /// <summary>What an out-of-process node agent needs to join this control plane.</summary>
    public AgentJoin Join => new(ApiAddress, NodeTokenPath);

    /// <summary>Settings that make controllers quick to retry in tests.</summary>
    public static IEnumerable<string> FastSettings =>
    [
        "--Orchestrator:MinimumReminderPeriod=00:00:01",
        "--Orchestrator:ResyncPeriod=00:00:05",
        "--Orchestrator:NodeLeaseDuration=00:00:03",
        "--Orchestrator:WatchLogCapacity=200",
        "--Logging:LogLevel:Default=Warning",
        "--Logging:LogLevel:Orleans=Error",
    ];

    public async Task InitializeAsync()
    {
        string[] args =
        [
            $"--urls=https://127.0.0.1:{HttpPort}",
            $"--Orchestrator:DataDirectory={_data.Path}",
            $"--Orchestrator:SiloPort={SiloPort}",
            $"--Orchestrator:GatewayPort={GatewayPort}",
            $"--Orchestrator:ClusterId={ClusterId}",
            .. FastSettings,
            .. _extraArgs,
        ];
        // The silo's log goes to the running test's log file, not to the console.
        _app = SiloApp.Build(args, services =>
        {
            TestLoggerProvider.ReplaceConsole(services, "silo");
            _configureServices?.Invoke(services);
        });
        await _app.StartAsync();
        Api = new ApiClient(Kubeconfig.AdminClient(ApiAddress, KubeconfigPath, TimeSpan.FromSeconds(60)));
        await Eventually.Until(() => Api.TryGetAsync<Namespace>("/api/v1/namespaces/default"), "the default namespace");
    }

    /// <summary>Creates a namespace of its own for a test; <paramref name="labels"/> such as
    /// pod-security.kubernetes.io/enforce choose its Pod Security level.</summary>
    public async Task<string> NewNamespaceAsync(string prefix = "t", IReadOnlyDictionary<string, string>? labels = null)
    {
        var name = $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
        await Api.CreateAsync("/api/v1/namespaces", new Namespace { Metadata = new ObjectMeta { Name = name, Labels = labels } });
        return name;
    }

    /// <summary>Starts fake nodes (registered, heartbeating, running pods without containers).</summary>
    public async Task<NodeAgentGroup> StartFakeNodesAsync(IEnumerable<string> names, string cpu = "4", string memory = "8Gi", Dictionary<string, string>? labels = null, List<string>? taints = null)
    {
        var options = new NodeAgentOptions
        {
            Runtime = "fake",
            Cpu = cpu,
            Memory = memory,
            Labels = labels ?? [],
            Taints = taints ?? [],
            NodeIP = "127.0.0.1",
            ResyncInterval = TimeSpan.FromSeconds(5),
        };
        var group = new NodeAgentGroup(names.ToList(), options, Grains, _ => new FakeRuntime(TimeProvider.System), TimeProvider.System, TestLoggerProvider.Logger("agents"));
        await group.StartAsync(CancellationToken.None);
        lock (_nodeGroups)
        {
            _nodeGroups.Add(group);
        }
        return group;
    }

    /// <summary>Stops fake nodes (their heartbeats stop: the nodes go NotReady) and deletes them.</summary>
    public async Task StopFakeNodesAsync(NodeAgentGroup group, bool deleteNodes = true)
    {
        lock (_nodeGroups)
        {
            _nodeGroups.Remove(group);
        }
        var names = group.Agents.Keys.ToList();
        await group.DisposeAsync();
        if (deleteNodes)
        {
            foreach (var name in names)
            {
                await Api.SendAsync(HttpMethod.Delete, $"/api/v1/nodes/{name}");
            }
        }
    }

    public async Task DisposeAsync()
    {
        List<NodeAgentGroup> groups;
        lock (_nodeGroups)
        {
            groups = [.. _nodeGroups];
            _nodeGroups.Clear();
        }
        foreach (var g in groups)
        {
            await g.DisposeAsync();
        }
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        Api?.Http.Dispose();
        _data.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ControlPlaneCollection : ICollectionFixture<ControlPlaneFixture>
{
    public const string Name = "control plane";
}
