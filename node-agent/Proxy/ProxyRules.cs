using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Orchestrator.NodeAgent.Proxy;

/// <summary>The chains of the nat table the proxier owns, each with its rules ("-A CHAIN ..."),
/// and the rules in the built-in chains that jump into them.</summary>
public sealed record NatRules(IReadOnlyDictionary<string, IReadOnlyList<string>> Chains, IReadOnlyList<string> Jumps)
{
    public static NatRules Empty { get; } = new(new Dictionary<string, IReadOnlyList<string>>(), []);

    public int RuleCount => Chains.Values.Sum(c => c.Count);
}

/// <summary>
/// The iptables rules of a node's services, as pure functions: <see cref="Render"/> turns routes
/// into chains, <see cref="Restore"/> turns the difference between two rule sets into input for
/// <c>iptables-restore --noflush</c> (one atomic transaction), and <see cref="ParseSave"/> reads
/// what <c>iptables-save</c> shows back.
/// <para>
/// The layout follows kube-proxy's iptables mode, with its names: built-in PREROUTING (traffic
/// from pods and from other machines) and OUTPUT (from the node itself) jump to ORCH-SERVICES,
/// which sends each ClusterIP:port to that port's ORCH-SVC chain and, last, traffic for any
/// local address to ORCH-NODEPORTS. An ORCH-SVC chain DNATs to one endpoint per rule, spread with
/// <c>-m statistic --mode random</c>: with n endpoints the first rule matches with probability 1/n,
/// the next 1/(n-1) of what is left, and so on, so each gets an equal share. Unlike kube-proxy
/// there is no chain per endpoint: ten thousand chains cost iptables-nft seconds to restore, ten
/// thousand rules a fraction of that. The per-endpoint work kube-proxy's KUBE-SEP chains do is
/// folded into the ORCH-SVC rules: the hairpin mark (<c>-s ENDPOINT -j ORCH-MARK-MASQ</c>, only
/// for endpoints on this node, the only pods whose traffic to themselves passes here) and ClientIP
/// affinity (<c>-m recent</c>: a matching DNAT rule sets its endpoint's list; a client seen in a
/// list within the timeout goes to that endpoint again, and is seen afresh).
/// </para>
/// <para>
/// Masquerading is for what needs it and nothing else (kube-proxy's KUBE-MARK-MASQ): NodePort
/// traffic, which may arrive from outside and be sent to a pod on another node whose reply must
/// come back through this one, and hairpin traffic, a pod reaching itself through its service.
/// Both are marked with 0x4000 (kube-proxy's bit) and ORCH-POSTROUTING masquerades marked
/// packets. Pod egress in general is never touched.
/// </para>
/// <para>
/// Rules are written in the exact form iptables-save prints them back (match order, quoting,
/// the probability rounded as xt_statistic stores it), so the kernel's state can be compared with
/// the desired one chain by chain: an agent that restarts rewrites only what differs, and an
/// unchanged service never has its chain flushed.
/// </para>
/// </summary>
public static class ProxyRules
{
    public const string Prefix = "ORCH-";
    public const string ServicesChain = "ORCH-SERVICES";
    public const string NodePortsChain = "ORCH-NODEPORTS";
    public const string MarkMasqueradeChain = "ORCH-MARK-MASQ";
    public const string PostroutingChain = "ORCH-POSTROUTING";

    /// <summary>The packet mark bit that asks for masquerading (kube-proxy's 0x4000).</summary>
    public const string MasqueradeMark = "0x4000";

    private static readonly string[] BuiltinChains = ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"];

    /// <summary>The jumps from the built-in chains, in iptables-save's form.</summary>
    public static IReadOnlyList<string> Jumps { get; } =
    [
        $"-A PREROUTING -m comment --comment \"orchestrator service portals\" -j {ServicesChain}",
        $"-A OUTPUT -m comment --comment \"orchestrator service portals\" -j {ServicesChain}",
        $"-A POSTROUTING -m comment --comment \"orchestrator postrouting rules\" -j {PostroutingChain}",
    ];

    /// <summary>The chains for these routes.</summary>
    public static NatRules Render(IReadOnlyList<ServicePortRoute> routes)
    {
        var services = new List<string>(routes.Count + 1);
        var nodePorts = new List<string>();
        var chains = new Dictionary<string, IReadOnlyList<string>>(routes.Count + 4, StringComparer.Ordinal);
        foreach (var route in routes)
        {
            if (route.Endpoints.Count == 0)
            {
                continue;
            }
            var chain = ServiceChain(route.Name, route.Protocol);
            var proto = route.Protocol.ToLowerInvariant();
            services.Add($"-A {ServicesChain} -d {route.ClusterIP}/32 -p {proto} -m comment --comment {Quote(route.Name + " cluster IP")} -m {proto} --dport {Num(route.Port)} -j {chain}");
            if (route.NodePort is { } nodePort)
            {
                var match = $"-p {proto} -m comment --comment {Quote(route.Name + " node port")} -m {proto} --dport {Num(nodePort)}";
                nodePorts.Add($"-A {NodePortsChain} {match} -j {MarkMasqueradeChain}");
                nodePorts.Add($"-A {NodePortsChain} {match} -j {chain}");
            }
            chains[chain] = ServiceRules(chain, route, proto);
        }
        // Last: whatever is addressed to this node (any of its addresses but loopback, which
        // DNAT cannot send off the node) may be a NodePort.
        services.Add($"-A {ServicesChain} ! -d 127.0.0.0/8 -m comment --comment \"node ports; last rule of the chain\" -m addrtype --dst-type LOCAL -j {NodePortsChain}");
        chains[ServicesChain] = services;
        chains[NodePortsChain] = nodePorts;
        chains[MarkMasqueradeChain] = [$"-A {MarkMasqueradeChain} -j MARK --set-xmark {MasqueradeMark}/{MasqueradeMark}"];
        chains[PostroutingChain] =
        [
            $"-A {PostroutingChain} -m mark ! --mark {MasqueradeMark}/{MasqueradeMark} -j RETURN",
            // Clear the bit so that a packet that comes round again (a tunnel, say) is not
            // masqueraded twice.
            $"-A {PostroutingChain} -j MARK --set-xmark {MasqueradeMark}/0x0",
            $"-A {PostroutingChain} -m comment --comment \"service traffic requiring SNAT\" -j MASQUERADE",
        ];
        return new NatRules(chains, Jumps);
    }

    private static List<string> ServiceRules(string chain, ServicePortRoute route, string proto)
    {
        var rules = new List<string>(route.Endpoints.Count * (route.AffinitySeconds is null ? 1 : 2) + 2);
        foreach (var ep in route.Endpoints)
        {
            if (ep.Local)
            {
                rules.Add($"-A {chain} -s {ep.Ip}/32 -j {MarkMasqueradeChain}");
            }
        }
        if (route.AffinitySeconds is { } seconds)
        {
            foreach (var ep in route.Endpoints)
            {
                rules.Add($"-A {chain} -p {proto} -m recent --update --seconds {Num(seconds)} --reap --name {AffinityList(route.Name, ep)} --mask 255.255.255.255 --rsource -j DNAT --to-destination {ep.Ip}:{Num(ep.Port)}");
            }
        }
        var n = route.Endpoints.Count;
        for (var i = 0; i < n; i++)
        {
            var ep = route.Endpoints[i];
            var statistic = i < n - 1 ? $" -m statistic --mode random --probability {Probability(n - i)}" : "";
            var affinity = route.AffinitySeconds is null ? "" : $" -m recent --set --name {AffinityList(route.Name, ep)} --mask 255.255.255.255 --rsource";
            rules.Add($"-A {chain} -p {proto}{statistic}{affinity} -j DNAT --to-destination {ep.Ip}:{Num(ep.Port)}");
        }
        return rules;
    }

    /// <summary>
    /// iptables-restore input that turns <paramref name="current"/> into <paramref name="desired"/>,
    /// or null when they are the same. Only chains whose rules differ are written (declaring a
    /// chain flushes it; its new rules follow in the same transaction, so no packet sees it
    /// empty); chains of ours that are no longer wanted are flushed and deleted once nothing
    /// jumps to them; jumps from built-in chains are inserted when missing and deleted when
    /// doubled or stale. Nothing that is not ours is flushed.
    /// </summary>
    public static string? Restore(NatRules desired, NatRules current)
    {
        var changed = desired.Chains
            .Where(c => !current.Chains.TryGetValue(c.Key, out var now) || !now.SequenceEqual(c.Value, StringComparer.Ordinal))
            .Select(c => c.Key)
            .Order(StringComparer.Ordinal)
            .ToList();
        var stale = current.Chains.Keys.Where(c => !desired.Chains.ContainsKey(c)).Order(StringComparer.Ordinal).ToList();
        var insert = desired.Jumps.Where(j => !current.Jumps.Contains(j, StringComparer.Ordinal)).ToList();
        var delete = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var jump in current.Jumps)
        {
            if (!desired.Jumps.Contains(jump, StringComparer.Ordinal) || !seen.Add(jump))
            {
                delete.Add(jump);
            }
        }
        if (changed.Count == 0 && stale.Count == 0 && insert.Count == 0 && delete.Count == 0)
        {
            return null;
        }
        var text = new StringBuilder(changed.Sum(c => desired.Chains[c].Count) * 96 + 256);
        text.Append("*nat\n");
        foreach (var chain in changed.Concat(stale))
        {
            text.Append(':').Append(chain).Append(" - [0:0]\n");
        }
        foreach (var jump in delete)
        {
            text.Append("-D").Append(jump.AsSpan(2)).Append('\n');
        }
        foreach (var chain in changed)
        {
            foreach (var rule in desired.Chains[chain])
            {
                text.Append(rule).Append('\n');
            }
        }
        foreach (var jump in insert)
        {
            // "-A PREROUTING ..." becomes "-I PREROUTING 1 ...": ours go first, as kube-proxy's do.
            var chainEnd = jump.IndexOf(' ', 3);
            text.Append("-I ").Append(jump.AsSpan(3, chainEnd - 3)).Append(" 1").Append(jump.AsSpan(chainEnd)).Append('\n');
        }
        foreach (var chain in stale)
        {
            text.Append("-X ").Append(chain).Append('\n');
        }
        text.Append("COMMIT\n");
        return text.ToString();
    }

    /// <summary>Our part of the nat table in <c>iptables-save</c> output: the chains named
    /// ORCH-* with their rules, and the rules of built-in chains that jump to one of them.</summary>
    public static NatRules ParseSave(string save)
    {
        var chains = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var jumps = new List<string>();
        var inNat = false;
        foreach (var raw in save.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith('*'))
            {
                inNat = line == "*nat";
                continue;
            }
            if (!inNat)
            {
                continue;
            }
            if (line.StartsWith(':'))
            {
                var name = line[1..].Split(' ')[0];
                if (name.StartsWith(Prefix, StringComparison.Ordinal))
                {
                    chains.TryAdd(name, []);
                }
            }
            else if (line.StartsWith("-A ", StringComparison.Ordinal))
            {
                var end = line.IndexOf(' ', 3);
                var chain = end < 0 ? line[3..] : line[3..end];
                if (chain.StartsWith(Prefix, StringComparison.Ordinal))
                {
                    if (!chains.TryGetValue(chain, out var rules))
                    {
                        chains[chain] = rules = [];
                    }
                    rules.Add(line);
                }
                else if (BuiltinChains.Contains(chain) && line.Contains($" -j {Prefix}", StringComparison.Ordinal))
                {
                    jumps.Add(line);
                }
            }
        }
        return new NatRules(chains.ToDictionary(c => c.Key, c => (IReadOnlyList<string>)c.Value, StringComparer.Ordinal), jumps);
    }

    /// <summary>The chain of one service port: kube-proxy's KUBE-SVC-&lt;hash&gt;, 25 characters
    /// (iptables allows 28).</summary>
    public static string ServiceChain(string portName, string protocol) => Prefix + "SVC-" + Hash(portName + "/" + protocol);

    /// <summary>The xt_recent list that remembers the clients of one endpoint.</summary>
    public static string AffinityList(string portName, ProxyEndpoint ep) => Prefix + "SEP-" + Hash($"{portName}/{ep.Ip}:{Num(ep.Port)}");

    /// <summary>1/n as xt_statistic stores it (a 31-bit fraction) and iptables-save prints it
    /// (%.11f), so that the rule reads back exactly as written.</summary>
    public static string Probability(int n)
    {
        var stored = Math.Round(2147483648.0 / n, MidpointRounding.AwayFromZero);
        return (stored / 2147483648.0).ToString("F11", CultureInfo.InvariantCulture);
    }

    private static string Hash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)), 0, 8);

    private static string Num(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A comment as iptables-save quotes it; ours always hold a space, '/' or ':', which
    /// it always quotes.</summary>
    private static string Quote(string text) => "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
