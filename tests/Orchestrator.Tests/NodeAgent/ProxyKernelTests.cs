using System.Runtime.Versioning;
using Orchestrator.NodeAgent.Proxy;
using Orchestrator.Tests.Containerd;

namespace Orchestrator.Tests.NodeAgent;

/// <summary>
/// The rendered rules against the real iptables (nf_tables backend), in a network namespace of
/// the test's own: iptables-restore takes them, and iptables-save prints them back exactly as
/// rendered, which is what lets a restarted agent leave unchanged chains alone.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class ProxyKernelTests : IAsyncLifetime
{
    private readonly string _netns = $"orch-ut-{Guid.NewGuid().ToString("N")[..8]}";
    private Iptables _nat = null!;

    public async Task InitializeAsync()
    {
        Assert.True(HostCommand.IsRoot, "the iptables tests need root (CI runs them as root)");
        await HostCommand.CheckAsync("ip", ["netns", "add", _netns]);
        _nat = new Iptables(["nsenter", $"--net=/run/netns/{_netns}"]);
    }

    public async Task DisposeAsync() => await HostCommand.RunAsync("ip", ["netns", "delete", _netns]);

    private static IReadOnlyList<ServicePortRoute> Routes(bool withB = true) =>
    [
        new("ns/a:http", "10.96.0.10", "TCP", 80, 30080, null, [new("10.244.1.3", 8080, true), new("10.244.2.3", 8080, false), new("10.244.3.3", 8080, false)]),
        .. withB ? new ServicePortRoute[] { new("ns/b:dns", "10.96.0.11", "UDP", 53, null, null, [new("10.244.1.4", 5353, true)]) } : [],
        new("ns/c:80", "10.96.0.12", "TCP", 80, null, 10800, [new("10.244.1.5", 80, true), new("10.244.2.5", 80, false)]),
        new("ns/d:sctp", "10.96.0.13", "SCTP", 9, null, null, [new("10.244.2.6", 9, false)]),
    ];

    [Fact]
    public async Task RulesReadBackExactlyAsWrittenAndRemovalsLeaveNothing()
    {
        var before = await _nat.SaveAsync(CancellationToken.None);
        var desired = ProxyRules.Render(Routes());
        await _nat.RestoreAsync(ProxyRules.Restore(desired, ProxyRules.ParseSave(before))!, CancellationToken.None);

        var current = ProxyRules.ParseSave(await _nat.SaveAsync(CancellationToken.None));
        Assert.Equal(desired.Chains.Keys.Order(StringComparer.Ordinal), current.Chains.Keys.Order(StringComparer.Ordinal));
        foreach (var (chain, rules) in desired.Chains)
        {
            Assert.Equal(rules, current.Chains[chain]);
        }
        Assert.Equal(desired.Jumps.Order(StringComparer.Ordinal), current.Jumps.Order(StringComparer.Ordinal));
        Assert.Null(ProxyRules.Restore(desired, current));

        // Service b goes: its chain and rule with it, and nothing else changes.
        var without = ProxyRules.Render(Routes(withB: false));
        await _nat.RestoreAsync(ProxyRules.Restore(without, current)!, CancellationToken.None);
        var save = await _nat.SaveAsync(CancellationToken.None);
        Assert.DoesNotContain(ProxyRules.ServiceChain("ns/b:dns", "UDP"), save, StringComparison.Ordinal);
        Assert.DoesNotContain("10.96.0.11", save, StringComparison.Ordinal);
        Assert.Null(ProxyRules.Restore(without, ProxyRules.ParseSave(save)));
    }

    [Fact]
    public async Task AffinityListsSurviveASyncThatLeavesTheirChainAlone()
    {
        var desired = ProxyRules.Render(Routes());
        await _nat.RestoreAsync(ProxyRules.Restore(desired, NatRules.Empty)!, CancellationToken.None);
        var list = ProxyRules.AffinityList("ns/c:80", new ProxyEndpoint("10.244.1.5", 80, true));
        var path = $"/proc/net/xt_recent/{list}";
        // A client remembered by the list (written as /proc/net/xt_recent documents).
        await HostCommand.CheckAsync("nsenter", [$"--net=/run/netns/{_netns}", "sh", "-c", $"echo +192.0.2.7 > {path}"]);
        // Another service changes: the affinity service's chain is not rewritten.
        var changed = ProxyRules.Render(Routes(withB: false));
        await _nat.RestoreAsync(ProxyRules.Restore(changed, ProxyRules.ParseSave(await _nat.SaveAsync(CancellationToken.None)))!, CancellationToken.None);
        var remembered = await HostCommand.CheckAsync("nsenter", [$"--net=/run/netns/{_netns}", "cat", path]);
        Assert.Contains("src=192.0.2.7", remembered, StringComparison.Ordinal);
    }
}
