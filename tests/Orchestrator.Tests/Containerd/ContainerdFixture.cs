using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;
using Orchestrator.Model;
using Orchestrator.NodeAgent;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.NodeAgent.Runtime.Containerd;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Containerd;

/// <summary>
/// Everything the containerd tests share: a containerd of their own (under a temporary
/// directory, stopped by its PID at the end), the busybox test image, a control plane, and one
/// in-process node agent running real containers through <see cref="ContainerdRuntime"/>, with
/// a bridge, namespace and directories whose names are unique to this run. Disposing removes
/// all of it: containers, images, namespaces, network namespaces, bridges, cgroups, directories.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class ContainerdFixture : IAsyncLifetime
{
    public const string Image = "localhost/busybox:test";

    private readonly TempDirectory _directory = new("orch-ctd");
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly List<string> _bridges = [];
    private readonly List<string> _netnsDirectories = [];
    private ControlPlaneFixture? _controlPlane;

    public ContainerdInstance Containerd { get; private set; } = null!;

    public ControlPlaneFixture ControlPlane => _controlPlane!;

    public ApiClient Api => ControlPlane.Api;

    public NodeAgentGroup Agent { get; private set; } = null!;

    public ContainerdRuntime Runtime { get; private set; } = null!;

    public NodeAgentOptions AgentOptions { get; private set; } = null!;

    /// <summary>The control plane's cluster CIDR, unique to this run.</summary>
    public string ClusterCidr { get; private set; } = "";

    public string NodeName => AgentOptions.NodeName;

    /// <summary>An allowed hostPath root of the in-process agent (besides /tmp).</summary>
    public string HostRoot => Path.Combine(_directory.Path, "host");

    /// <summary>Agent log lines, for failure messages.</summary>
    public TestLog Log { get; } = new();

    public async Task InitializeAsync()
    {
        if (!HostCommand.IsRoot)
        {
            throw new InvalidOperationException("the containerd tests run real containers and need root (CI runs them as root)");
        }
        Containerd = await ContainerdInstance.StartAsync(Path.Combine(_directory.Path, "containerd"), TimeSpan.FromSeconds(20));
        // A cluster CIDR of its own, so the node bridge's subnet never meets another test run's.
        var octet = 200 + Random.Shared.Next(50);
        ClusterCidr = $"10.{octet}.0.0/16";
        _controlPlane = new ControlPlaneFixture([$"--Orchestrator:ClusterCidr={ClusterCidr}"]);
        await _controlPlane.InitializeAsync();
        AgentOptions = NodeOptions("a");
        await Containerd.ImportTestImageAsync(AgentOptions.ContainerdNamespace);
        Directory.CreateDirectory(HostRoot);
        Runtime = await ContainerdRuntime.CreateAsync(AgentOptions, TimeProvider.System, Log.CreateLogger("runtime"), CancellationToken.None);
        Agent = new NodeAgentGroup([NodeName], AgentOptions, ControlPlane.Grains, _ => Runtime, TimeProvider.System, Log.CreateLogger("agent"));
        await Agent.StartAsync(CancellationToken.None);
        await WaitNodeReadyAsync(NodeName);
    }

    /// <summary>Options for a node agent of this run: its own containerd namespace, bridge, data
    /// and netns directories, and a label that pods select it by.</summary>
    public NodeAgentOptions NodeOptions(string name)
    {
        var node = $"ctd-{_suffix}-{name}";
        var bridge = $"orcht{_suffix[..4]}{name}";
        var ns = $"orch-test-{_suffix}-{name}";
        var data = Path.Combine(_directory.Path, $"agent-{name}");
        var netns = Path.Combine(_directory.Path, $"netns-{name}");
        lock (_bridges)
        {
            _bridges.Add(bridge);
            _netnsDirectories.Add(netns);
        }
        Containerd?.Owns(ns);
        return new NodeAgentOptions
        {
            NodeName = node,
            Runtime = "containerd",
            ContainerdAddress = Path.Combine(_directory.Path, "containerd", "containerd.sock"),
            ContainerdNamespace = ns,
            DataDirectory = data,
            NetnsDirectory = netns,
            BridgeName = bridge,
            AllowedHostPathRoots = [HostRoot],
            NodeIP = "127.0.0.1",
            // These agents run in the test's own network namespace: no service rules there, and
            // pods get routes to the cluster's addresses only, never a default route out.
            Proxy = false,
            PodRoutes = [ClusterCidr, "10.96.0.0/12"],
            Cpu = "4",
            Memory = "8Gi",
            Labels = new Dictionary<string, string> { [NodeLabel] = node },
            ResyncInterval = TimeSpan.FromSeconds(5),
            // Short back-off so restart tests take seconds, not minutes.
            RestartBackoff = TimeSpan.FromSeconds(1),
            MaxRestartBackoff = TimeSpan.FromSeconds(2),
            ImagePullTimeout = TimeSpan.FromSeconds(20),
        };
    }

    public const string NodeLabel = NodePinning.Label;

    /// <summary>Pins a pod spec to a node of this fixture.</summary>
    public static PodSpec OnNode(PodSpec spec, string node) => spec with
    {
        NodeSelector = new Dictionary<string, string> { [NodeLabel] = node },
    };

    public async Task WaitNodeReadyAsync(string node, TimeSpan? timeout = null) =>
        await Eventually.True(async () =>
        {
            var n = await Api.TryGetAsync<Node>($"/api/v1/nodes/{node}");
            return n?.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == ConditionStatus.True) == true;
        }, $"node {node} Ready", timeout);

    public async Task DisposeAsync()
    {
        if (Agent is not null)
        {
            await Agent.DisposeAsync();
        }
        if (_controlPlane is not null)
        {
            await _controlPlane.DisposeAsync();
        }
        if (Containerd is not null)
        {
            await Containerd.DisposeAsync();
        }
        // What the agents' sandboxes leave on the host: namespaces (if a pod outlived the tests)
        // and the bridges. The bridge plugin adds no iptables rules with ipMasq off.
        foreach (var dir in _netnsDirectories.Where(Directory.Exists))
        {
            foreach (var file in Directory.EnumerateFiles(dir))
            {
                await HostCommand.RunAsync("umount", ["--lazy", file]);
            }
        }
        foreach (var bridge in _bridges)
        {
            await HostCommand.RunAsync("ip", ["link", "delete", bridge]);
        }
        foreach (var mountPoint in ContainerdInstance.MountsUnder(_directory.Path))
        {
            await HostCommand.RunAsync("umount", ["--lazy", mountPoint]);
        }
        _directory.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ContainerdCollection : ICollectionFixture<ContainerdFixture>
{
    public const string Name = "containerd";
}
