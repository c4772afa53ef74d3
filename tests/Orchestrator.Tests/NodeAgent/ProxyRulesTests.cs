using System.Globalization;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Proxy;

namespace Orchestrator.Tests.NodeAgent;

/// <summary>The proxy's pure parts: routes from services and endpoints, the rules they render to,
/// and the iptables-restore input that moves the nat table from one rule set to another.</summary>
public sealed class ProxyRulesTests
{
    private const string Node = "n1";

    internal static Service Svc(string name, string? clusterIP = "10.96.0.10", string type = ServiceType.ClusterIP, string? affinity = null, params ServicePort[] ports) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = "ns" },
        Spec = new ServiceSpec
        {
            Type = type,
            ClusterIP = clusterIP,
            Selector = new Dictionary<string, string> { ["app"] = name },
            SessionAffinity = affinity,
            Ports = ports.Length > 0 ? ports : [new ServicePort { Port = 80, Protocol = "TCP", TargetPort = 8080 }],
        },
    };

    internal static Endpoints Eps(string name, params EndpointSubset[] subsets) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = "ns" },
        Subsets = subsets,
    };

    internal static EndpointSubset Subset(IEnumerable<(string Ip, string Node)> ready, IEnumerable<(string Ip, string Node)>? notReady = null, params EndpointPort[] ports) => new()
    {
        Addresses = ready.Select(a => new EndpointAddress { Ip = a.Ip, NodeName = a.Node }).ToList(),
        NotReadyAddresses = notReady?.Select(a => new EndpointAddress { Ip = a.Ip, NodeName = a.Node }).ToList(),
        Ports = ports.Length > 0 ? ports : [new EndpointPort { Port = 8080, Protocol = "TCP" }],
    };

    private static IReadOnlyList<ServicePortRoute> Routes(IEnumerable<Service> services, params Endpoints[] endpoints) =>
        ServiceRoutes.Build(services, endpoints.ToDictionary(e => e.Key()), Node);

    [Fact]
    public void RoutesTakeReadyAddressesOfTheMatchingPortOnly()
    {
        var svc = Svc("web", ports:
        [
            new ServicePort { Name = "http", Port = 80, Protocol = "TCP", TargetPort = "http" },
            new ServicePort { Name = "dns", Port = 53, Protocol = "UDP", TargetPort = 5353 },
        ]);
        // Pods resolved the named port differently: two subsets.
        var eps = Eps("web",
            Subset([("10.244.1.3", "n1"), ("10.244.2.3", "n2")], [("10.244.1.9", "n1")], new EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }, new EndpointPort { Name = "dns", Port = 5353, Protocol = "UDP" }),
            Subset([("10.244.3.3", "n3")], null, new EndpointPort { Name = "http", Port = 9090, Protocol = "TCP" }));

        var routes = Routes([svc], eps);

        Assert.Equal(["ns/web:dns", "ns/web:http"], routes.Select(r => r.Name));
        var dns = routes[0];
        Assert.Equal(("UDP", 53), (dns.Protocol, dns.Port));
        Assert.Equal(["10.244.1.3:5353", "10.244.2.3:5353"], dns.Endpoints.Select(e => $"{e.Ip}:{e.Port}"));
        var http = routes[1];
        Assert.Equal(["10.244.1.3:8080", "10.244.2.3:8080", "10.244.3.3:9090"], http.Endpoints.Select(e => $"{e.Ip}:{e.Port}"));
        Assert.Equal([true, false, false], http.Endpoints.Select(e => e.Local));
        Assert.Null(http.NodePort);
        Assert.Null(http.AffinitySeconds);
    }

    [Fact]
    public void HeadlessServicesAndPortsWithoutReadyEndpointsGetNoRoute()
    {
        var headless = Svc("headless", clusterIP: "None");
        var nobody = Svc("nobody", clusterIP: "10.96.0.11");
        var unready = Svc("unready", clusterIP: "10.96.0.12");
        var routes = Routes([headless, nobody, unready],
            Eps("headless", Subset([("10.244.1.3", "n1")])),
            Eps("nobody"),
            Eps("unready", Subset([], [("10.244.1.4", "n1")])));
        Assert.Empty(routes);
        var rules = ProxyRules.Render(routes);
        Assert.DoesNotContain(rules.Chains.Keys, c => c.StartsWith("ORCH-SVC-", StringComparison.Ordinal));
        Assert.Single(rules.Chains[ProxyRules.ServicesChain]);
    }

    [Fact]
    public void NodePortsAndAffinityComeFromTheSpec()
    {
        var np = Svc("np", type: ServiceType.NodePort, affinity: "ClientIP", ports: [new ServicePort { Port = 80, Protocol = "TCP", TargetPort = 8080, NodePort = 30080 }]);
        var withTimeout = Svc("t", clusterIP: "10.96.0.13", affinity: "ClientIP") with { };
        withTimeout = withTimeout with { Spec = withTimeout.Spec with { SessionAffinityConfig = new SessionAffinityConfig { ClientIP = new ClientIPConfig { TimeoutSeconds = 60 } } } };
        var routes = Routes([np, withTimeout], Eps("np", Subset([("10.244.1.3", "n1")])), Eps("t", Subset([("10.244.1.3", "n1")])));
        Assert.Equal((30080, 10800), (routes[0].NodePort, routes[0].AffinitySeconds));
        Assert.Equal((null, 60), (routes[1].NodePort, routes[1].AffinitySeconds));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(10)]
    public void EachEndpointGetsAnEqualShare(int n)
    {
        var endpoints = Enumerable.Range(0, n).Select(i => new ProxyEndpoint($"10.244.2.{i + 2}", 8080, false)).ToList();
        var rules = ProxyRules.Render([new ServicePortRoute("ns/web:80", "10.96.0.10", "TCP", 80, null, null, endpoints)]);
        var chain = rules.Chains[ProxyRules.ServiceChain("ns/web:80", "TCP")];
        Assert.Equal(n, chain.Count);
        // The share of endpoint i: it is reached when every rule before it missed.
        var left = 1.0;
        for (var i = 0; i < n; i++)
        {
            var rule = chain[i];
            Assert.EndsWith($"-j DNAT --to-destination 10.244.2.{i + 2}:8080", rule, StringComparison.Ordinal);
            var p = 1.0;
            if (i < n - 1)
            {
                var text = rule.Split("--probability ")[1].Split(' ')[0];
                p = double.Parse(text, CultureInfo.InvariantCulture);
                Assert.Equal(1.0 / (n - i), p, 1e-9);
            }
            else
            {
                Assert.DoesNotContain("statistic", rule, StringComparison.Ordinal);
            }
            Assert.Equal(1.0 / n, left * p, 1e-8);
            left *= 1 - p;
        }
    }

    [Fact]
    public void ProbabilitiesAreWrittenAsIptablesSavePrintsThem()
    {
        // xt_statistic keeps round(2^31 p); iptables-save prints that over 2^31 with 11 decimals.
        Assert.Equal("0.50000000000", ProxyRules.Probability(2));
        Assert.Equal("0.33333333349", ProxyRules.Probability(3));
        Assert.Equal("0.10000000009", ProxyRules.Probability(10));
    }

    [Fact]
    public void OnlyNodePortsAndHairpinTrafficAreMasqueraded()
    {
        var routes = new[]
        {
            new ServicePortRoute("ns/np:80", "10.96.0.10", "TCP", 80, 30080, null, [new ProxyEndpoint("10.244.1.3", 8080, true), new ProxyEndpoint("10.244.2.3", 8080, false)]),
            new ServicePortRoute("ns/udp:53", "10.96.0.11", "UDP", 53, null, null, [new ProxyEndpoint("10.244.2.4", 5353, false)]),
        };
        var rules = ProxyRules.Render(routes);
        var np = ProxyRules.ServiceChain("ns/np:80", "TCP");
        var udp = ProxyRules.ServiceChain("ns/udp:53", "UDP");
        Assert.Equal(
        [
            $"-A ORCH-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment \"ns/np:80 cluster IP\" -m tcp --dport 80 -j {np}",
            $"-A ORCH-SERVICES -d 10.96.0.11/32 -p udp -m comment --comment \"ns/udp:53 cluster IP\" -m udp --dport 53 -j {udp}",
            "-A ORCH-SERVICES ! -d 127.0.0.0/8 -m comment --comment \"node ports; last rule of the chain\" -m addrtype --dst-type LOCAL -j ORCH-NODEPORTS",
        ], rules.Chains[ProxyRules.ServicesChain]);
        Assert.Equal(
        [
            "-A ORCH-NODEPORTS -p tcp -m comment --comment \"ns/np:80 node port\" -m tcp --dport 30080 -j ORCH-MARK-MASQ",
            $"-A ORCH-NODEPORTS -p tcp -m comment --comment \"ns/np:80 node port\" -m tcp --dport 30080 -j {np}",
        ], rules.Chains[ProxyRules.NodePortsChain]);
        // The hairpin mark only for the endpoint on this node.
        Assert.Equal(
        [
            $"-A {np} -s 10.244.1.3/32 -j ORCH-MARK-MASQ",
            $"-A {np} -p tcp -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.244.1.3:8080",
            $"-A {np} -p tcp -j DNAT --to-destination 10.244.2.3:8080",
        ], rules.Chains[np]);
        Assert.Equal([$"-A {udp} -p udp -j DNAT --to-destination 10.244.2.4:5353"], rules.Chains[udp]);
        // Masquerading is asked for through ORCH-MARK-MASQ only; ORCH-POSTROUTING acts on the mark.
        var masquerading = rules.Chains.Values.SelectMany(c => c).Where(r => r.Contains("MASQUERADE", StringComparison.Ordinal) && !r.Contains("MARK-MASQ", StringComparison.Ordinal)).ToList();
        Assert.Equal(["-A ORCH-POSTROUTING -m comment --comment \"service traffic requiring SNAT\" -j MASQUERADE"], masquerading);
        Assert.StartsWith("-A ORCH-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN", rules.Chains[ProxyRules.PostroutingChain][0], StringComparison.Ordinal);
    }

    [Fact]
    public void ClientIPAffinitySendsAKnownClientToItsEndpointFirst()
    {
        var eps = new[] { new ProxyEndpoint("10.244.1.3", 8080, false), new ProxyEndpoint("10.244.2.3", 8080, false) };
        var rules = ProxyRules.Render([new ServicePortRoute("ns/web:80", "10.96.0.10", "TCP", 80, null, 600, eps)]);
        var chain = ProxyRules.ServiceChain("ns/web:80", "TCP");
        var a = ProxyRules.AffinityList("ns/web:80", eps[0]);
        var b = ProxyRules.AffinityList("ns/web:80", eps[1]);
        Assert.NotEqual(a, b);
        Assert.Equal(
        [
            $"-A {chain} -p tcp -m recent --update --seconds 600 --reap --name {a} --mask 255.255.255.255 --rsource -j DNAT --to-destination 10.244.1.3:8080",
            $"-A {chain} -p tcp -m recent --update --seconds 600 --reap --name {b} --mask 255.255.255.255 --rsource -j DNAT --to-destination 10.244.2.3:8080",
            $"-A {chain} -p tcp -m statistic --mode random --probability 0.50000000000 -m recent --set --name {a} --mask 255.255.255.255 --rsource -j DNAT --to-destination 10.244.1.3:8080",
            $"-A {chain} -p tcp -m recent --set --name {b} --mask 255.255.255.255 --rsource -j DNAT --to-destination 10.244.2.3:8080",
        ], rules.Chains[chain]);
    }

    [Fact]
    public void ChainNamesFitIptablesLimit()
    {
        var name = ProxyRules.ServiceChain(new string('a', 63) + "/" + new string('b', 63) + ":" + new string('c', 15), "SCTP");
        Assert.Equal(25, name.Length);
        Assert.Equal(name, ProxyRules.ServiceChain(new string('a', 63) + "/" + new string('b', 63) + ":" + new string('c', 15), "SCTP"));
        Assert.NotEqual(name, ProxyRules.ServiceChain(new string('a', 63) + "/" + new string('b', 63) + ":" + new string('c', 15), "TCP"));
    }

    private static NatRules Two(params string[] names) => ProxyRules.Render(names.Select((n, i) =>
        new ServicePortRoute($"ns/{n}:80", $"10.96.0.{10 + i}", "TCP", 80, null, null, [new ProxyEndpoint($"10.244.1.{3 + i}", 8080, false)])).ToList());

    [Fact]
    public void AFirstSyncCreatesEverythingAndInsertsTheJumps()
    {
        var desired = Two("a", "b");
        var restore = ProxyRules.Restore(desired, NatRules.Empty)!;
        var lines = restore.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("*nat", lines[0]);
        Assert.Equal("COMMIT", lines[^1]);
        Assert.Equal(desired.Chains.Keys.Order(StringComparer.Ordinal).Select(c => $":{c} - [0:0]"), lines.Where(l => l.StartsWith(':')));
        Assert.Equal(desired.RuleCount, lines.Count(l => l.StartsWith("-A ", StringComparison.Ordinal)));
        Assert.Equal(
        [
            "-I PREROUTING 1 -m comment --comment \"orchestrator service portals\" -j ORCH-SERVICES",
            "-I OUTPUT 1 -m comment --comment \"orchestrator service portals\" -j ORCH-SERVICES",
            "-I POSTROUTING 1 -m comment --comment \"orchestrator postrouting rules\" -j ORCH-POSTROUTING",
        ], lines.Where(l => l.StartsWith("-I ", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.StartsWith("-X", StringComparison.Ordinal) || l.StartsWith("-F", StringComparison.Ordinal) || l.StartsWith("-D", StringComparison.Ordinal));
    }

    [Fact]
    public void NothingIsWrittenWhenTheTableMatches() =>
        Assert.Null(ProxyRules.Restore(Two("a", "b"), Two("a", "b")));

    [Fact]
    public void ARemovedServiceLeavesNoRuleAndUnchangedServicesAreNotTouched()
    {
        var before = Two("a", "b", "c");
        // "c" keeps its address and endpoint.
        var after = ProxyRules.Render(
        [
            new ServicePortRoute("ns/a:80", "10.96.0.10", "TCP", 80, null, null, [new ProxyEndpoint("10.244.1.3", 8080, false)]),
            new ServicePortRoute("ns/c:80", "10.96.0.12", "TCP", 80, null, null, [new ProxyEndpoint("10.244.1.5", 8080, false)]),
        ]);
        var restore = ProxyRules.Restore(after, before)!;
        var gone = ProxyRules.ServiceChain("ns/b:80", "TCP");
        Assert.Equal(
        [
            "*nat",
            ":ORCH-SERVICES - [0:0]",
            $":{gone} - [0:0]",
            .. after.Chains[ProxyRules.ServicesChain],
            $"-X {gone}",
            "COMMIT",
        ], restore.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void AnEndpointChangeRewritesOnlyItsServiceChain()
    {
        var before = Two("a", "b");
        var after = ProxyRules.Render(
        [
            new ServicePortRoute("ns/a:80", "10.96.0.10", "TCP", 80, null, null, [new ProxyEndpoint("10.244.1.3", 8080, false), new ProxyEndpoint("10.244.2.9", 8080, false)]),
            new ServicePortRoute("ns/b:80", "10.96.0.11", "TCP", 80, null, null, [new ProxyEndpoint("10.244.1.4", 8080, false)]),
        ]);
        var chain = ProxyRules.ServiceChain("ns/a:80", "TCP");
        Assert.Equal(["*nat", $":{chain} - [0:0]", .. after.Chains[chain], "COMMIT"], ProxyRules.Restore(after, before)!.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void RulesOfAPreviousRunThatNoServiceOwnsAreRemovedAndDoubledJumpsDeleted()
    {
        var desired = Two("a");
        var old = ProxyRules.ServiceChain("ns/old:80", "TCP");
        var save = $"""
            # Generated by iptables-save v1.8.9 (nf_tables)
            *filter
            :INPUT ACCEPT [0:0]
            -A INPUT -j ORCH-SOMETHING-ELSE
            COMMIT
            *nat
            :PREROUTING ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            :POSTROUTING ACCEPT [0:0]
            :DOCKER - [0:0]
            :ORCH-OLD-THING - [0:0]
            {string.Join('\n', desired.Chains.Keys.Select(c => $":{c} - [0:0]"))}
            :{old} - [0:0]
            -A PREROUTING -m comment --comment "orchestrator service portals" -j ORCH-SERVICES
            -A PREROUTING -m comment --comment "orchestrator service portals" -j ORCH-SERVICES
            -A PREROUTING -j DOCKER
            -A OUTPUT -j ORCH-OLD-THING
            -A POSTROUTING -m comment --comment "orchestrator postrouting rules" -j ORCH-POSTROUTING
            {string.Join('\n', desired.Chains.Values.SelectMany(c => c))}
            -A ORCH-SERVICES -d 10.96.9.9/32 -p tcp -m tcp --dport 80 -j {old}
            -A {old} -p tcp -j DNAT --to-destination 10.244.9.9:80
            -A DOCKER -j RETURN
            COMMIT
            """;
        var current = ProxyRules.ParseSave(save);
        Assert.DoesNotContain("DOCKER", current.Chains.Keys);
        Assert.Equal(["ORCH-OLD-THING", old], current.Chains.Keys.Except(desired.Chains.Keys).Order(StringComparer.Ordinal));

        var lines = ProxyRules.Restore(desired, current)!.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
        [
            "*nat",
            ":ORCH-SERVICES - [0:0]",
            ":ORCH-OLD-THING - [0:0]",
            $":{old} - [0:0]",
            "-D PREROUTING -m comment --comment \"orchestrator service portals\" -j ORCH-SERVICES",
            "-D OUTPUT -j ORCH-OLD-THING",
            .. desired.Chains[ProxyRules.ServicesChain],
            "-I OUTPUT 1 -m comment --comment \"orchestrator service portals\" -j ORCH-SERVICES",
            "-X ORCH-OLD-THING",
            $"-X {old}",
            "COMMIT",
        ], lines);
    }
}
