using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeAgent;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.MultiNode;

/// <summary>What a <see cref="MultiNodeCluster"/> is made of and connects to.</summary>
public sealed record MultiNodeSettings
{
    public int Nodes { get; init; } = 3;

    /// <summary>The containerd the nodes share, each in a containerd namespace of its own.</summary>
    public required ContainerdInstance Containerd { get; init; }

    /// <summary>The control plane, to see nodes register and learn their pod CIDRs.</summary>
    public required IGrainFactory Grains { get; init; }

    /// <summary>The silo's gateway port on this process's loopback.</summary>
    public required int GatewayPort { get; init; }

    public required string ClusterId { get; init; }

    /// <summary>How the agents join: the API URL(s) on this process's loopback (each one's port is
    /// relayed into every node, like the gateway's) and the node bootstrap token file.</summary>
    public required AgentJoin Join { get; init; }

    /// <summary>Where agents keep their data and pod namespaces; the caller deletes it.</summary>
    public required string WorkDirectory { get; init; }

    /// <summary>Routed to each node's pod bridge, so that the node itself can open connections to
    /// ClusterIPs (it has no default route). The control plane's Orchestrator:ServiceCidr.</summary>
    public string ServiceCidr { get; init; } = "10.96.0.0/12";

    /// <summary>Extra agent arguments, e.g. "--Agent:ProxyMinSyncInterval=00:00:00.050".</summary>
    public IReadOnlyList<string> AgentArguments { get; init; } = [];

    /// <summary>The loopback ports of this process that agents reach on their own namespace's
    /// loopback (one <see cref="ControlPlaneLink"/> each). Unset: <see cref="GatewayPort"/>
    /// alone, the embedded profile. A cluster-profile control plane needs Redis' port and every
    /// silo's gateway port (Redis lists the gateways as 127.0.0.1:port).</summary>
    public IReadOnlyList<int>? RelayPorts { get; init; }
}

/// <summary>One worker node of a <see cref="MultiNodeCluster"/>.</summary>
public sealed class ClusterNode
{
    internal ClusterNode(int index, string name, string netns, string address, string hubLink, NodeAgentOptions options)
    {
        Index = index;
        Name = name;
        Netns = netns;
        Address = address;
        HubLink = hubLink;
        Options = options;
    }

    public int Index { get; }

    /// <summary>The Node object's name.</summary>
    public string Name { get; }

    /// <summary>The network namespace's name (ip netns); its path is <see cref="NetnsPath"/>.</summary>
    public string Netns { get; }

    public string NetnsPath => $"/run/netns/{Netns}";

    /// <summary>The node's address on the cluster network (its InternalIP).</summary>
    public string Address { get; }

    /// <summary>The hub's end of the node's veth pair ("the cable").</summary>
    public string HubLink { get; }

    public NodeAgentOptions Options { get; }

    public string? PodCidr { get; internal set; }

    public AgentProcess? Agent { get; internal set; }

    /// <summary>The node's relays to the control plane (see <see cref="MultiNodeSettings.RelayPorts"/>).</summary>
    internal List<ControlPlaneLink> Links { get; } = [];

    public override string ToString() => Name;
}

/// <summary>
/// Several worker nodes on one machine, each a network namespace with its own node agent, real
/// containers and service proxy, for end-to-end and fault-injection tests (see
/// docs/architecture.md, "Several nodes on one machine"). The topology, all in namespaces this
/// harness creates and deletes (the root namespace gains no link, address, route or rule):
/// <code>
///   hub namespace:   bridge hub0 172.30.0.1/24 ── n1 ── n2 ── n3   (veth ends, "cables")
///                                                 │     │     │
///   node namespaces: eth0 172.30.0.11        .12        .13
///                    pod bridge (the agent's Agent:BridgeName) with the node's pod CIDR
///                    routes: every other node's pod CIDR via that node; the service CIDR
///                    via the pod bridge; no default route
/// </code>
/// Each agent runs inside its node's namespace (<c>nsenter --net</c>) and reaches the control
/// plane on its namespace's loopback through a <see cref="ControlPlaneLink"/>. The hub stands
/// for the rest of the network: a client there is an outside client of every node (NodePorts).
/// Faults: <see cref="KillAgentAsync"/> (kill -9), <see cref="StopNodeAsync"/> (agent and
/// containers killed, network cut), <see cref="CutNetworkAsync"/> / <see cref="HealNetworkAsync"/>
/// (the node's cable down or up, its control-plane link with it).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class MultiNodeCluster : IAsyncDisposable
{
    public const string HubBridge = "hub0";
    public const string HubAddress = "172.30.0.1";
    private const int NetworkPrefix = 24;

    private readonly MultiNodeSettings _settings;
    private readonly List<ClusterNode> _nodes = [];
    private bool _hubMade;

    private MultiNodeCluster(MultiNodeSettings settings, string suffix)
    {
        _settings = settings;
        Suffix = suffix;
        Hub = $"orch-mn-{suffix}-hub";
    }

    /// <summary>Unique to this cluster: in node, namespace and bridge names.</summary>
    public string Suffix { get; }

    /// <summary>The hub's network namespace name.</summary>
    public string Hub { get; }

    public string HubPath => $"/run/netns/{Hub}";

    public IReadOnlyList<ClusterNode> Nodes => _nodes;

    public ContainerdInstance Containerd => _settings.Containerd;

    public static string NodeAddress(int index) => $"172.30.0.{10 + index}";

    /// <summary>Builds the network, starts an agent per node, waits until every node is Ready
    /// with its pod CIDR routed and its proxy has synced once.</summary>
    public static async Task<MultiNodeCluster> StartAsync(MultiNodeSettings settings, TimeSpan? timeout = null)
    {
        var cluster = new MultiNodeCluster(settings, Guid.NewGuid().ToString("N")[..6]);
        try
        {
            await cluster.BuildAsync(timeout ?? TimeSpan.FromSeconds(90));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task BuildAsync(TimeSpan timeout)
    {
        await Ip("netns", "add", Hub);
        _hubMade = true;
        await Ip("-n", Hub, "link", "set", "lo", "up");
        await Ip("-n", Hub, "link", "add", HubBridge, "type", "bridge");
        await Ip("-n", Hub, "addr", "add", $"{HubAddress}/{NetworkPrefix}", "dev", HubBridge);
        await Ip("-n", Hub, "link", "set", HubBridge, "up");
        var image = Path.Combine(Containerd.Directory, "image", "busybox-oci.tar");
        for (var i = 1; i <= _settings.Nodes; i++)
        {
            var node = new ClusterNode(i, $"mn-{Suffix}-n{i}", $"orch-mn-{Suffix}-n{i}", NodeAddress(i), $"n{i}", AgentOptions(i));
            _nodes.Add(node);
            await MakeNodeNetworkAsync(node);
            Containerd.Owns(node.Options.ContainerdNamespace);
            if (i == 1 || !File.Exists(image))
            {
                await Containerd.ImportTestImageAsync(node.Options.ContainerdNamespace);
            }
            else
            {
                await Containerd.CtrAsync(node.Options.ContainerdNamespace, "images", "import", image);
            }
            var apiPorts = _settings.Join.Server.Split(',').Select(s => new Uri(s.Trim()).Port);
            foreach (var port in (_settings.RelayPorts ?? [_settings.GatewayPort]).Concat(apiPorts).Distinct())
            {
                node.Links.Add(ControlPlaneLink.Open(node.NetnsPath, port, port));
            }
            StartAgent(node);
        }
        await Task.WhenAll(_nodes.Select(n => WaitReadyAsync(n, timeout)));
        await RouteAsync();
        await Task.WhenAll(_nodes.Select(n => WaitAsync(async () => (await IptablesSaveAsync(n)).Contains(":ORCH-SERVICES", StringComparison.Ordinal),
            $"the proxy of {n} to sync", timeout, n)));
    }

    private NodeAgentOptions AgentOptions(int i)
    {
        var name = $"mn-{Suffix}-n{i}";
        return new NodeAgentOptions
        {
            NodeName = name,
            Runtime = "containerd",
            ContainerdAddress = Containerd.Address,
            ContainerdNamespace = $"orch-mn-{Suffix}-n{i}",
            DataDirectory = Path.Combine(_settings.WorkDirectory, $"agent-n{i}"),
            NetnsDirectory = Path.Combine(_settings.WorkDirectory, $"netns-n{i}"),
            // Each node has its own namespace, so one name would do; distinct names keep the
            // agents apart should two ever share one.
            BridgeName = $"orch{Suffix[..4]}n{i}",
            NodeIP = NodeAddress(i),
            Cpu = "4",
            Memory = "8Gi",
            Proxy = true,
            Labels = new Dictionary<string, string> { [NodePinning.Label] = name },
            ResyncInterval = TimeSpan.FromSeconds(5),
            RestartBackoff = TimeSpan.FromSeconds(1),
            MaxRestartBackoff = TimeSpan.FromSeconds(2),
            ImagePullTimeout = TimeSpan.FromSeconds(20),
        };
    }

    private async Task MakeNodeNetworkAsync(ClusterNode node)
    {
        var ns = node.Netns;
        await Ip("netns", "add", ns);
        await Ip("-n", ns, "link", "set", "lo", "up");
        // Made from the hub's side, the pair never exists in the root namespace.
        await Ip("-n", Hub, "link", "add", node.HubLink, "type", "veth", "peer", "name", "eth0", "netns", ns);
        await Ip("-n", Hub, "link", "set", node.HubLink, "master", HubBridge, "up");
        await Ip("-n", ns, "addr", "add", $"{node.Address}/{NetworkPrefix}", "dev", "eth0");
        await Ip("-n", ns, "link", "set", "eth0", "up");
        // The pod bridge exists before the agent's first pod so that the service CIDR can be
        // routed to it; CNI's bridge plugin adopts it and gives it the pod CIDR's gateway address.
        await Ip("-n", ns, "link", "add", node.Options.BridgeName, "type", "bridge");
        await Ip("-n", ns, "link", "set", node.Options.BridgeName, "up");
        await Ip("-n", ns, "route", "add", _settings.ServiceCidr, "dev", node.Options.BridgeName);
        // A node forwards its pods' traffic, and sends bridged pod-to-pod traffic through
        // iptables, so that a reply from a service endpoint on the same bridge is un-DNATed.
        await NodeExecAsync(node, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1");
    }

    /// <summary>Routes every node's pod CIDR to that node, in every other node and in the hub.
    /// Run again after a node got a new pod CIDR (a deleted node registering again).</summary>
    public async Task RouteAsync()
    {
        foreach (var node in _nodes)
        {
            node.PodCidr = (await _settings.Grains.GetGrain<INodeGrain>(node.Name).GetAsync())?.Spec.PodCIDR
                ?? throw new InvalidOperationException($"node {node} has no pod CIDR");
        }
        foreach (var via in _nodes)
        {
            await Ip("-n", Hub, "route", "replace", via.PodCidr!, "via", via.Address);
            foreach (var node in _nodes.Where(n => n != via))
            {
                await Ip("-n", node.Netns, "route", "replace", via.PodCidr!, "via", via.Address);
            }
        }
    }

    /// <summary>Starts the node's agent (again, after a kill).</summary>
    public void StartAgent(ClusterNode node)
    {
        node.Agent = AgentProcess.Start(node.Options, _settings.GatewayPort, _settings.ClusterId, _settings.Join, node.NetnsPath, _settings.AgentArguments);
    }

    /// <summary>kill -9 of the node's agent; its containers and rules stay.</summary>
    public async Task KillAgentAsync(ClusterNode node)
    {
        if (node.Agent is { HasExited: false } agent)
        {
            await agent.KillAsync();
        }
    }

    /// <summary>The node goes down hard: its agent and containers are killed and its network
    /// cut. <see cref="StartNodeAsync"/> brings it back.</summary>
    public async Task StopNodeAsync(ClusterNode node)
    {
        await KillAgentAsync(node);
        var tasks = await Containerd.CtrAsync(node.Options.ContainerdNamespace, "tasks", "list", "--quiet");
        foreach (var id in tasks.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            await HostCommand.RunAsync("ctr", ["--address", Containerd.Address, "--namespace", node.Options.ContainerdNamespace, "tasks", "kill", "--signal", "SIGKILL", id]);
        }
        await CutNetworkAsync(node);
    }

    public async Task StartNodeAsync(ClusterNode node)
    {
        await HealNetworkAsync(node);
        StartAgent(node);
    }

    /// <summary>Pulls the node's cable: its veth goes down at the hub, and its control-plane link
    /// drops with it.</summary>
    public async Task CutNetworkAsync(ClusterNode node)
    {
        await Ip("-n", Hub, "link", "set", node.HubLink, "down");
        foreach (var link in node.Links)
        {
            link.Connected = false;
        }
    }

    public async Task HealNetworkAsync(ClusterNode node)
    {
        await Ip("-n", Hub, "link", "set", node.HubLink, "up");
        foreach (var link in node.Links)
        {
            link.Connected = true;
        }
    }

    /// <summary>Runs a command inside the node's network namespace; its standard output.</summary>
    public Task<string> NodeExecAsync(ClusterNode node, params string[] command) =>
        HostCommand.CheckAsync("nsenter", [$"--net={node.NetnsPath}", .. command]);

    /// <summary>Runs a command in the hub's network namespace: an outside client of every node.</summary>
    public Task<string> HubExecAsync(params string[] command) =>
        HostCommand.CheckAsync("nsenter", [$"--net={HubPath}", .. command]);

    /// <summary>The node's nat table as iptables-save prints it.</summary>
    public Task<string> IptablesSaveAsync(ClusterNode node) => NodeExecAsync(node, "iptables-save", "-t", "nat");

    /// <summary>Runs a command in a container of the node (ctr tasks exec); its output. runc
    /// sometimes fails to start an exec on a loaded machine ("OCI runtime exec failed: ... error
    /// executing setns process: signal: broken pipe"): the command never ran, so it is started
    /// again, at most twice more.</summary>
    public async Task<string> ContainerExecAsync(ClusterNode node, string containerId, params string[] command)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await Containerd.CtrAsync(node.Options.ContainerdNamespace, ["tasks", "exec", "--exec-id", $"t{Guid.NewGuid():N}"[..12], containerId, .. command]);
            }
            catch (InvalidOperationException ex) when (attempt < 3 && ex.Message.Contains("OCI runtime exec failed", StringComparison.Ordinal))
            {
            }
        }
    }

    public ClusterNode NodeNamed(string name) => _nodes.Single(n => n.Name == name);

    public async Task WaitReadyAsync(ClusterNode node, TimeSpan? timeout = null) =>
        await WaitAsync(async () => (await _settings.Grains.GetGrain<INodeGrain>(node.Name).GetAsync()) is { } n && n.IsReady() && n.Spec.PodCIDR is not null,
            $"node {node} Ready", timeout ?? TimeSpan.FromSeconds(60), node);

    /// <summary>The last lines of every agent's output, for failure messages.</summary>
    public string Describe(int lines = 30) => string.Join("\n", _nodes.Select(n =>
        $"--- agent of {n} (pid {n.Agent?.Pid.ToString(CultureInfo.InvariantCulture) ?? "none"}{(n.Agent?.HasExited == true ? ", exited" : "")}):\n"
        + string.Join('\n', (n.Agent?.Output ?? "").Split('\n').TakeLast(lines))));

    private async Task WaitAsync(Func<Task<bool>> condition, string what, TimeSpan timeout, ClusterNode? node = null)
    {
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (clock.Elapsed < timeout)
        {
            if (node?.Agent is { HasExited: true } exited)
            {
                throw new InvalidOperationException($"the agent of {node} exited while waiting for {what}:\n{exited.Output}");
            }
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception ex)
            {
                last = ex;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}{(last is null ? "" : $" (last error: {last.Message})")}\n{Describe()}");
    }

    private static Task<string> Ip(params string[] args) => HostCommand.CheckAsync("ip", args);

    /// <summary>Stops the agents (their containers are removed with their containerd namespaces),
    /// closes the control-plane links and deletes every namespace this cluster made, which takes
    /// their links, addresses, routes and iptables rules with them.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            if (node.Agent is { } agent)
            {
                await agent.DisposeAsync();
            }
            foreach (var link in node.Links)
            {
                await link.DisposeAsync();
            }
        }
        foreach (var node in _nodes)
        {
            await Containerd.EmptyNamespaceAsync(node.Options.ContainerdNamespace);
            foreach (var mountPoint in ContainerdInstance.MountsUnder(node.Options.NetnsDirectory).Concat(ContainerdInstance.MountsUnder(node.Options.DataDirectory)))
            {
                await HostCommand.RunAsync("umount", ["--lazy", mountPoint]);
            }
            await HostCommand.RunAsync("ip", ["netns", "delete", node.Netns]);
        }
        if (_hubMade)
        {
            await HostCommand.RunAsync("ip", ["netns", "delete", Hub]);
        }
    }
}
