using Microsoft.Extensions.Options;

namespace Orchestrator.NodeAgent;

/// <summary>
/// Settings of a node agent, from the configuration section "Agent" (environment variables
/// such as <c>Agent__NodeName</c>, or arguments such as <c>--Agent:NodeName=worker-1</c>).
/// </summary>
public sealed class NodeAgentOptions
{
    public const string Section = "Agent";

    /// <summary>The control plane's HTTP API, where the agent joins and renews its credentials: one
    /// URL or several separated by commas (any silo serves it), tried in turn. Default
    /// https://127.0.0.1:8080, the embedded profile's API on this machine.</summary>
    public string Server { get; set; } = "https://127.0.0.1:8080";

    /// <summary>The node bootstrap token, K10&lt;CA hash&gt;::node:&lt;secret&gt;, which a silo writes to
    /// &lt;data directory&gt;/node-token. Needed to join; a node that has joined reuses the
    /// credentials it stored under <see cref="DataDirectory"/> and renews them with its node token.</summary>
    public string? Token { get; set; }

    /// <summary>A file holding <see cref="Token"/> (e.g. the silo's node-token, or a secret mounted
    /// into the agent's container), read when the agent joins.</summary>
    public string? TokenFile { get; set; }

    /// <summary><see cref="Server"/> as URLs.</summary>
    public IReadOnlyList<Uri> Servers => Server.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(s => new Uri(s, UriKind.Absolute)).ToList();

    /// <summary>The node's name. Default: the machine's host name, lower-cased.</summary>
    public string NodeName { get; set; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>"containerd" (real containers) or "fake" (no containers: pods are marked running;
    /// for tests and hollow nodes).</summary>
    public string Runtime { get; set; } = "containerd";

    /// <summary>Extra node labels, e.g. Agent__Labels__disktype=ssd.</summary>
    public Dictionary<string, string> Labels { get; set; } = [];

    /// <summary>Taints as "key=value:Effect" or "key:Effect".</summary>
    public List<string> Taints { get; set; } = [];

    /// <summary>Override the cpu cores the node reports (default: the machine's).</summary>
    public string? Cpu { get; set; }

    /// <summary>Override the memory the node reports, e.g. "8Gi" (default: the machine's).</summary>
    public string? Memory { get; set; }

    /// <summary>Most pods the node runs. Default 110, as Kubernetes.</summary>
    public int MaxPods { get; set; } = 110;

    /// <summary>The address reported as the node's InternalIP. Default: the first non-loopback IPv4.</summary>
    public string? NodeIP { get; set; }

    /// <summary>Lease renewal period. Default 1 s; the control plane's NodeLeaseDuration (5 s)
    /// must be several of these.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one heartbeat may take before the agent gives up on it and sends the
    /// next. A call that a gateway passed to a silo which then died is never answered (Orleans
    /// 10.4.2, dotnet/orleans#10165) and would otherwise hold the heartbeat loop for the client's
    /// whole response timeout (20 s), long enough for the node to lose its lease while the agent
    /// is healthy. Default 2 s: a missed heartbeat costs less than half of the control plane's
    /// 5 s lease.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the agent's other short calls to the control plane (registering the node,
    /// listing its pods to fence them) may take before it gives up and tries again, for the same
    /// reason as <see cref="HeartbeatTimeout"/>. Default 10 s.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Full re-list of the node's pods, the safety net under the watch. Default 30 s.</summary>
    public TimeSpan ResyncInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often running containers are checked for exits. Default 1 s.</summary>
    public TimeSpan RelistInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>First restart back-off of a crashing container; doubles up to
    /// <see cref="MaxRestartBackoff"/>. Default 10 s, as Kubernetes.</summary>
    public TimeSpan RestartBackoff { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan MaxRestartBackoff { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A container that ran this long resets its back-off. Default 10 minutes.</summary>
    public TimeSpan BackoffReset { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>containerd's gRPC socket (what <c>ctr --address</c> takes). Default
    /// /run/containerd/containerd.sock.</summary>
    public string ContainerdAddress { get; set; } = "/run/containerd/containerd.sock";

    /// <summary>The containerd namespace this agent keeps its containers in. Agents that share one
    /// containerd (several nodes on one machine) each need their own. Default "orchestrator".</summary>
    public string ContainerdNamespace { get; set; } = "orchestrator";

    /// <summary>Where the agent keeps its state: container logs, pod volumes (emptyDir), sandbox
    /// records and host-local's IP allocations. Default /var/lib/orchestrator-agent.</summary>
    public string DataDirectory { get; set; } = DefaultDataDirectory;

    /// <summary>Where pod network namespaces are bind-mounted, one file per pod. Default
    /// /run/orchestrator-agent/netns (a tmpfs: namespaces do not outlive a reboot either).</summary>
    public string NetnsDirectory { get; set; } = "/run/orchestrator-agent/netns";

    /// <summary>The Linux bridge the pods of this node attach to; it gets the pod CIDR's first
    /// address. At most 15 characters. Default "orch0".</summary>
    public string BridgeName { get; set; } = "orch0";

    /// <summary>Routes every pod gets through its node (the pod bridge's address), as IPv4 CIDRs.
    /// Unset means <see cref="DefaultPodRoutes"/>: a default route, as Kubernetes pods have, which
    /// is what lets a pod reach ClusterIPs and pods on other nodes. A node that must not forward
    /// its pods' traffic anywhere else can name just the cluster and service CIDRs. Nullable
    /// because configuration binding appends to a list that has items already.</summary>
    public List<string>? PodRoutes { get; set; }

    public static IReadOnlyList<string> DefaultPodRoutes { get; } = ["0.0.0.0/0"];

    /// <summary><see cref="PodRoutes"/>, or the default when it is not set.</summary>
    public IReadOnlyList<string> EffectivePodRoutes => PodRoutes ?? DefaultPodRoutes;

    /// <summary>Where the CNI plugins (bridge, host-local, loopback) are. Default /usr/lib/cni
    /// (Debian's containernetworking-plugins).</summary>
    public string CniPluginDirectory { get; set; } = "/usr/lib/cni";

    /// <summary>Directories under which hostPath volumes may lie; a pod whose hostPath is elsewhere
    /// fails to start with CreateContainerConfigError. Unset means
    /// <see cref="DefaultAllowedHostPathRoots"/> (/tmp and /var/lib/orchestrator-agent/host).
    /// Nullable because configuration binding appends to a list that has items already.</summary>
    public List<string>? AllowedHostPathRoots { get; set; }

    /// <summary>How long an image pull may take before it fails with ErrImagePull. Default 5 minutes.</summary>
    public TimeSpan ImagePullTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Program iptables for services (the node's kube-proxy). Unset means on with the
    /// containerd runtime and off with the fake one. The proxy owns the nat chains named ORCH-*
    /// of the network namespace the agent runs in: one proxying agent per network namespace.</summary>
    public bool? Proxy { get; set; }

    /// <summary>Whether the service proxy runs: <see cref="Proxy"/>, or by the runtime when unset.</summary>
    public bool ProxyEnabled => Proxy ?? Runtime == "containerd";

    /// <summary>The proxy syncs at once after a change, then at most this often while changes keep
    /// coming (kube-proxy's minSyncPeriod, 1 s there). Default 100 ms.</summary>
    public TimeSpan ProxyMinSyncInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How often the proxy reads the nat table back and repairs what differs (kube-proxy's
    /// syncPeriod). Default 30 s.</summary>
    public TimeSpan ProxyFullSyncInterval { get; set; } = TimeSpan.FromSeconds(30);

    public const string DefaultDataDirectory = "/var/lib/orchestrator-agent";

    public static IReadOnlyList<string> DefaultAllowedHostPathRoots { get; } = ["/tmp", DefaultDataDirectory + "/host"];

    /// <summary><see cref="AllowedHostPathRoots"/>, or the defaults when it is not set.</summary>
    public IReadOnlyList<string> EffectiveAllowedHostPathRoots =>
        AllowedHostPathRoots is { Count: > 0 } roots ? roots : DefaultAllowedHostPathRoots;
}

public sealed class NodeAgentOptionsValidator : IValidateOptions<NodeAgentOptions>
{
    public ValidateOptionsResult Validate(string? name, NodeAgentOptions o)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(o.NodeName) || Validation.Names.Dns1123Subdomain(o.NodeName).Count > 0)
        {
            problems.Add($"Agent:NodeName \"{o.NodeName}\" must be a lowercase DNS name such as worker-1.");
        }
        var servers = (o.Server ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (servers.Length == 0 || servers.Any(s => !Uri.TryCreate(s, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps))
        {
            problems.Add($"Agent:Server \"{o.Server}\" must be the API's https:// URL (or several, comma-separated), such as https://127.0.0.1:8080.");
        }
        if (o.Runtime is not ("containerd" or "fake"))
        {
            problems.Add($"Agent:Runtime \"{o.Runtime}\" must be \"containerd\" or \"fake\".");
        }
        if (o.HeartbeatInterval <= TimeSpan.Zero || o.ResyncInterval <= TimeSpan.Zero || o.RelistInterval <= TimeSpan.Zero)
        {
            problems.Add("Agent:HeartbeatInterval, ResyncInterval and RelistInterval must be positive.");
        }
        if (o.HeartbeatTimeout <= TimeSpan.Zero || o.CallTimeout <= TimeSpan.Zero)
        {
            problems.Add("Agent:HeartbeatTimeout and Agent:CallTimeout must be positive, e.g. 00:00:02 and 00:00:10.");
        }
        if (o.ProxyMinSyncInterval < TimeSpan.Zero || o.ProxyFullSyncInterval <= TimeSpan.Zero)
        {
            problems.Add("Agent:ProxyMinSyncInterval must not be negative and Agent:ProxyFullSyncInterval must be positive, e.g. 00:00:00.100 and 00:00:30.");
        }
        if (o.RestartBackoff <= TimeSpan.Zero || o.MaxRestartBackoff < o.RestartBackoff)
        {
            problems.Add("Agent:RestartBackoff must be positive and Agent:MaxRestartBackoff at least as long.");
        }
        if (o.Runtime == "containerd")
        {
            ValidateContainerd(o, problems);
        }
        foreach (var t in o.Taints)
        {
            if (!NodeIdentity.TryParseTaint(t, out _))
            {
                problems.Add($"Agent:Taints entry \"{t}\" must look like key=value:NoSchedule or key:NoExecute.");
            }
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    private static void ValidateContainerd(NodeAgentOptions o, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(o.ContainerdAddress))
        {
            problems.Add("Agent:ContainerdAddress must be containerd's socket, such as /run/containerd/containerd.sock.");
        }
        // containerd's own rule for namespace names (identifiers.Validate).
        if (!System.Text.RegularExpressions.Regex.IsMatch(o.ContainerdNamespace ?? "", "^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$") || o.ContainerdNamespace!.Length > 76)
        {
            problems.Add($"Agent:ContainerdNamespace \"{o.ContainerdNamespace}\" must be letters and digits, optionally separated by single '.', '_' or '-', such as orchestrator.");
        }
        foreach (var (name, value) in new[] { ("DataDirectory", o.DataDirectory), ("NetnsDirectory", o.NetnsDirectory), ("CniPluginDirectory", o.CniPluginDirectory) })
        {
            if (string.IsNullOrWhiteSpace(value) || !Path.IsPathRooted(value))
            {
                problems.Add($"Agent:{name} \"{value}\" must be an absolute path.");
            }
        }
        // Linux interface names: IFNAMSIZ is 16 with the terminating NUL.
        if (!System.Text.RegularExpressions.Regex.IsMatch(o.BridgeName ?? "", "^[A-Za-z0-9_.-]{1,15}$"))
        {
            problems.Add($"Agent:BridgeName \"{o.BridgeName}\" must be 1 to 15 letters, digits, '.', '_' or '-', such as orch0.");
        }
        foreach (var root in o.EffectiveAllowedHostPathRoots)
        {
            if (string.IsNullOrWhiteSpace(root) || !Path.IsPathRooted(root) || root.Contains(',', StringComparison.Ordinal))
            {
                problems.Add($"Agent:AllowedHostPathRoots entry \"{root}\" must be an absolute path without commas, such as /srv/data.");
            }
        }
        foreach (var route in o.EffectivePodRoutes)
        {
            if (!Model.Cidr.TryParse(route, out _))
            {
                problems.Add($"Agent:PodRoutes entry \"{route}\" must be an IPv4 CIDR such as 0.0.0.0/0 or 10.96.0.0/12.");
            }
        }
        if (o.ImagePullTimeout <= TimeSpan.Zero)
        {
            problems.Add("Agent:ImagePullTimeout must be positive.");
        }
    }
}
