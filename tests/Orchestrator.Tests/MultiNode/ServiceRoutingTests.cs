using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Proxy;
using Orchestrator.Serialization;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Orchestrator.Tests.MultiNode;

/// <summary>
/// Services end to end on three nodes with real containers: the control plane computes
/// endpoints, every node's proxy programs its nat table, and traffic from pods, from the nodes
/// themselves and from outside (the hub) reaches the right pods on any node.
/// </summary>
[Collection(MultiNodeCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed partial class ServiceRoutingTests(MultiNodeFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const string Image = ContainerdFixture.Image;

    /// <summary>busybox httpd on 8080 serving the pod's own address at / and "ok" at /ready,
    /// the readiness probe's path: removing /www/ready makes the pod un-Ready.</summary>
    private static readonly string[] ServeOwnAddress =
    [
        "sh", "-c",
        "mkdir -p /www && ip -o -4 addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 > /www/index.html && echo ok > /www/ready && exec httpd -f -p 8080 -h /www",
    ];

    private readonly List<string> _namespaces = [];

    private MultiNodeCluster Cluster => fixture.Cluster;

    private ApiClient Api => fixture.Api;

    public async Task InitializeAsync() =>
        // Every test starts from nodes without service rules (and shows the last one left none).
        await WaitAsync(async () => (await Task.WhenAll(Cluster.Nodes.Select(Cluster.IptablesSaveAsync))).All(s => !s.Contains("ORCH-SVC-", StringComparison.Ordinal)),
            "no service rules left on any node");

    public async Task DisposeAsync()
    {
        foreach (var ns in _namespaces)
        {
            await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}");
        }
        foreach (var ns in _namespaces)
        {
            await WaitAsync(async () => (await Api.Http.GetAsync($"/api/v1/namespaces/{ns}")).StatusCode == HttpStatusCode.NotFound, $"namespace {ns} deleted", 60);
        }
    }

    [Fact]
    public async Task ServiceSpreadsTrafficOverPodsOnEveryNodeAndFollowsScaleReadinessAndDeletion()
    {
        var ns = await NewNamespaceAsync();
        var baseline = await Task.WhenAll(Cluster.Nodes.Select(NatTableAsync));

        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Web("web", 3));
        var web = await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", new Service
        {
            Metadata = new ObjectMeta { Name = "web" },
            Spec = new ServiceSpec
            {
                Type = ServiceType.NodePort,
                Selector = new Dictionary<string, string> { ["app"] = "web" },
                Ports =
                [
                    // By container port name, and by number.
                    new ServicePort { Name = "http", Port = 80, TargetPort = "http" },
                    new ServicePort { Name = "alt", Port = 81, TargetPort = 8080 },
                ],
            },
        });
        var clients = await StartClientsAsync(ns);
        var pods = await WaitReadyPodsAsync(ns, "app=web", 3);
        // The scheduler spreads one owner's replicas: one per node.
        Assert.Equal(Cluster.Nodes.Select(n => n.Name).Order(), pods.Select(p => p.Spec.NodeName!).Order());
        var clusterIP = web.Spec.ClusterIP!;
        var nodePort = web.Spec.Ports![0].NodePort!.Value;
        await WaitRoutedAsync(ns, "web:http", pods);
        await WaitRoutedAsync(ns, "web:alt", pods);

        // 300 requests from a pod on each node reach all three pods, each about a third.
        foreach (var client in clients)
        {
            var counts = await RequestsAsync(client, $"http://{clusterIP}:80/", 300);
            output.WriteLine($"from {client.Spec.NodeName}: {string.Join(", ", counts.Select(c => $"{c.Key}={c.Value}"))}");
            Assert.Equal(pods.Select(p => p.Status!.PodIP!).Order(), counts.Keys.Order());
            // Binomial(300, 1/3): mean 100, sd 8.2; 60-140 is five standard deviations.
            Assert.All(counts.Values, c => Assert.InRange(c, 60, 140));
        }
        var alt = await RequestsAsync(clients[0], $"http://{clusterIP}:81/", 30);
        Assert.Equal(30, alt.Values.Sum());

        // The node itself (OUTPUT) reaches the ClusterIP, and the NodePort answers on every node's
        // address, from the node itself and from outside (the hub): masqueraded, so that a reply
        // from a pod on another node comes back through the node that was asked.
        var podIPs = pods.Select(p => p.Status!.PodIP!).ToHashSet();
        foreach (var node in Cluster.Nodes)
        {
            Assert.Contains(await GetAsync(c => Cluster.NodeExecAsync(node, c), $"http://{clusterIP}/"), podIPs);
            Assert.Contains(await GetAsync(c => Cluster.NodeExecAsync(node, c), $"http://{node.Address}:{nodePort}/"), podIPs);
            var seen = new HashSet<string>();
            for (var i = 0; i < 12; i++)
            {
                var answer = await GetAsync(Cluster.HubExecAsync, $"http://{node.Address}:{nodePort}/");
                Assert.Contains(answer, podIPs);
                seen.Add(answer);
            }
            output.WriteLine($"NodePort {node.Address}:{nodePort} from the hub reached {seen.Count} pods");
            Assert.True(seen.Count >= 2, $"12 NodePort requests to {node.Address} all reached {string.Join(", ", seen)}");
        }

        // Scaling to 5 adds the new pods on every node.
        await Api.SendAsync(HttpMethod.Patch, $"/apis/apps/v1/namespaces/{ns}/deployments/web/scale", """{"spec":{"replicas":5}}""", "application/merge-patch+json");
        pods = await WaitReadyPodsAsync(ns, "app=web", 5);
        await WaitRoutedAsync(ns, "web:http", pods);

        // A pod that stops being Ready leaves every node's rules within seconds, and gets no more
        // traffic.
        var victim = pods.First(p => p.Spec.NodeName == Cluster.Nodes[1].Name);
        var clock = Stopwatch.StartNew();
        await ExecAsync(victim, "rm", "/www/ready");
        var remaining = pods.Where(p => p != victim).ToList();
        await WaitRoutedAsync(ns, "web:http", remaining, timeoutSeconds: 15);
        output.WriteLine($"un-Ready pod {victim.Metadata.Name} left the rules of every node {clock.ElapsedMilliseconds} ms after its probe began to fail");
        var after = await RequestsAsync(clients[0], $"http://{clusterIP}:80/", 100);
        Assert.DoesNotContain(victim.Status!.PodIP!, after.Keys);
        Assert.Equal(remaining.Select(p => p.Status!.PodIP!).Order(), after.Keys.Order());

        // ClientIP affinity: one client, one pod.
        var sticky = await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", new Service
        {
            Metadata = new ObjectMeta { Name = "sticky" },
            Spec = new ServiceSpec
            {
                Selector = new Dictionary<string, string> { ["app"] = "web" },
                SessionAffinity = "ClientIP",
                Ports = [new ServicePort { Port = 80, TargetPort = 8080 }],
            },
        });
        await WaitRoutedAsync(ns, "sticky:80", remaining);
        foreach (var client in clients)
        {
            var stuck = await RequestsAsync(client, $"http://{sticky.Spec.ClusterIP}/", 20);
            Assert.Equal(20, Assert.Single(stuck).Value);
        }

        // Hairpin: a pod reaching itself through its own service.
        var self = await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", new Service
        {
            Metadata = new ObjectMeta { Name = "self" },
            Spec = new ServiceSpec
            {
                Selector = new Dictionary<string, string> { ["client"] = Cluster.Nodes[0].Name },
                Ports = [new ServicePort { Port = 80, TargetPort = 8080 }],
            },
        });
        await WaitRoutedAsync(ns, "self:80", [clients[0]]);
        var hairpin = await RequestsAsync(clients[0], $"http://{self.Spec.ClusterIP}/", 5);
        Assert.Equal(5, hairpin[clients[0].Status!.PodIP!]);

        // Deleting the services removes every rule they had, on every node.
        foreach (var name in new[] { "web", "sticky", "self" })
        {
            await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/services/{name}");
        }
        for (var i = 0; i < Cluster.Nodes.Count; i++)
        {
            var node = Cluster.Nodes[i];
            var expected = baseline[i];
            string? last = null;
            await WaitAsync(async () => (last = await NatTableAsync(node)) == expected, $"the nat table of {node} as before the services", 15,
                () => $"before:\n{expected}\nnow:\n{last}");
        }
    }

    [Fact]
    public async Task ServicesThatSelectNothingOrNameAMissingPortGetNoRulesAndBadPortsAreRefused()
    {
        var ns = await NewNamespaceAsync();
        var clients = await StartClientsAsync(ns, count: 1);
        Service Svc(string name, Dictionary<string, string> selector, IntOrString target) => new()
        {
            Metadata = new ObjectMeta { Name = name },
            Spec = new ServiceSpec { Selector = selector, Ports = [new ServicePort { Name = "p", Port = 80, TargetPort = target }] },
        };
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", Svc("nobody", new() { ["app"] = "nothing-has-this" }, 8080));
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", Svc("noname", new() { ["role"] = "client" }, "no-such-port"));
        // Created last, over the same pod: once its rules are on every node, the proxies have
        // seen the other two.
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", Svc("sentinel", new() { ["role"] = "client" }, "http"));
        await WaitRoutedAsync(ns, "sentinel:p", clients);
        foreach (var node in Cluster.Nodes)
        {
            var save = await Cluster.IptablesSaveAsync(node);
            Assert.DoesNotContain($"{ns}/nobody", save, StringComparison.Ordinal);
            Assert.DoesNotContain($"{ns}/noname", save, StringComparison.Ordinal);
            Assert.DoesNotContain(ProxyRules.ServiceChain($"{ns}/noname:p", "TCP"), save, StringComparison.Ordinal);
        }
        var noname = await Api.GetAsync<Endpoints>($"/api/v1/namespaces/{ns}/endpoints/noname");
        Assert.Null(noname.Subsets);

        // What the control plane refuses, naming the field.
        var np = Svc("np", new() { ["role"] = "client" }, 8080);
        np = np with { Spec = np.Spec with { Type = ServiceType.NodePort, Ports = [np.Spec.Ports![0] with { NodePort = 29999 }] } };
        var outside = await ApiClient.StatusAsync(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/services", ResourceJson.SerializeToString(np)), 422);
        Assert.Equal("spec.ports[0].nodePort", Assert.Single(outside.Details!.Causes!).Field);
        var badIP = Svc("badip", new() { ["role"] = "client" }, 8080);
        badIP = badIP with { Spec = badIP.Spec with { ClusterIP = "172.30.0.99" } };
        var wrongRange = await ApiClient.StatusAsync(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/services", ResourceJson.SerializeToString(badIP)), 422);
        Assert.Equal("spec.clusterIP", Assert.Single(wrongRange.Details!.Causes!).Field);
    }

    [Fact]
    public async Task AnAgentKilledAndRestartedKeepsTrafficFlowingAndDropsRulesNoServiceOwns()
    {
        var ns = await NewNamespaceAsync();
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Web("kept", 2));
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", ClusterIPService("kept"));
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", ClusterIPService("gone"));
        var clients = await StartClientsAsync(ns, count: 3);
        var client = clients[2];
        var node = Cluster.NodeNamed(client.Spec.NodeName!);
        var kept = await WaitReadyPodsAsync(ns, "app=kept", 2);
        await WaitRoutedAsync(ns, "kept:80", kept);
        await WaitRoutedAsync(ns, "gone:80", kept);
        var keptIP = (await Api.GetAsync<Service>($"/api/v1/namespaces/{ns}/services/kept")).Spec.ClusterIP!;
        var goneChain = ProxyRules.ServiceChain($"{ns}/gone:80", "TCP");

        await Cluster.KillAgentAsync(node);
        // While the agent is down its rules stay (traffic flows), including those of a service
        // deleted meanwhile.
        await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/services/gone");
        await WaitAsync(async () => (await Task.WhenAll(Cluster.Nodes.Where(n => n != node).Select(Cluster.IptablesSaveAsync))).All(s => !s.Contains(goneChain, StringComparison.Ordinal)),
            "the deleted service's rules gone from the other nodes");
        Assert.Contains(goneChain, await Cluster.IptablesSaveAsync(node), StringComparison.Ordinal);

        // Requests keep going from the node's client pod while its agent starts again and takes
        // over the rules: not one fails.
        using var stop = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            var total = new Dictionary<string, int>();
            while (!stop.IsCancellationRequested)
            {
                foreach (var (k, v) in await RequestsAsync(client, $"http://{keptIP}/", 20, allowFailures: true))
                {
                    total[k] = total.GetValueOrDefault(k) + v;
                }
            }
            return total;
        });
        Cluster.StartAgent(node);
        await WaitAsync(async () => !(await Cluster.IptablesSaveAsync(node)).Contains(goneChain, StringComparison.Ordinal), "the restarted agent to remove the stale rules", 60);
        await Cluster.WaitReadyAsync(node);
        await stop.CancelAsync();
        var results = await load;
        output.WriteLine($"during the restart: {string.Join(", ", results.Select(r => $"{r.Key}={r.Value}"))}");
        Assert.DoesNotContain("FAIL", results.Keys);
        Assert.Equal(kept.Select(p => p.Status!.PodIP!).Order(), results.Keys.Order());
        Assert.Contains(ProxyRules.ServiceChain($"{ns}/kept:80", "TCP"), await Cluster.IptablesSaveAsync(node), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARollingUpdateUnderTrafficDropsNoRequest()
    {
        var ns = await NewNamespaceAsync();
        // Each pod answers with its version: VERSION from the environment, which the update changes.
        string[] serveVersion =
        [
            "sh", "-c",
            "mkdir -p /www && echo \"$VERSION\" > /www/index.html && echo ok > /www/ready && exec httpd -f -p 8080 -h /www",
        ];
        var web = Web("web", 4);
        web = web with
        {
            Spec = web.Spec with
            {
                Template = web.Spec.Template with
                {
                    Spec = web.Spec.Template.Spec with
                    {
                        // Long enough for every node's rules to drop an old pod before it is killed
                        // (busybox httpd ignores SIGTERM, so the grace period is its lifetime).
                        TerminationGracePeriodSeconds = 5,
                        Containers = [HttpdContainer() with { Command = serveVersion, Env = [new EnvVar { Name = "VERSION", Value = "v1" }] }],
                    },
                },
            },
        };
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", web);
        var svc = await Api.CreateAsync($"/api/v1/namespaces/{ns}/services", new Service
        {
            Metadata = new ObjectMeta { Name = "web" },
            Spec = new ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "web" }, Ports = [new ServicePort { Name = "http", Port = 80, TargetPort = "http" }] },
        });
        var client = (await StartClientsAsync(ns, count: 1))[0];
        var pods = await WaitReadyPodsAsync(ns, "app=web", 4);
        await WaitRoutedAsync(ns, "web:http", pods);

        // The client requests the ClusterIP in a loop until told to stop, the whole time.
        var url = $"http://{svc.Spec.ClusterIP}:80/";
        var loop = ExecAsync(client, "sh", "-c", $"rm -f /tmp/stop; while [ ! -f /tmp/stop ]; do r=$({HttpGet(url)}); [ -n \"$r\" ] || r=FAIL; echo \"$r\"; done");
        await WaitAsync(async () => (await ExecAsync(client, "sh", "-c", "echo started")).Trim() == "started" && !loop.IsCompleted, "the request loop to run");

        var current = await Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/web");
        var container = current.Spec.Template.Spec.Containers[0] with { Env = [new EnvVar { Name = "VERSION", Value = "v2" }] };
        // Without a resourceVersion: the controller may write the status between the GET and this.
        var update = current with
        {
            Metadata = current.Metadata with { ResourceVersion = null },
            Spec = current.Spec with { Template = current.Spec.Template with { Spec = current.Spec.Template.Spec with { Containers = [container] } } },
        };
        Assert.True((await Api.SendAsync(HttpMethod.Put, $"/apis/apps/v1/namespaces/{ns}/deployments/web", ResourceJson.SerializeToString(update))).IsSuccessStatusCode);

        // The rollout completes: four new pods, routed on every node, and no old pod left.
        await WaitAsync(async () =>
        {
            var d = await Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/web");
            var all = await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dweb");
            // As kubectl rollout status: the status must be of the current generation (a GET is
            // answered at once, possibly before the controller has seen the update).
            return d.Status is { UpdatedReplicas: 4, AvailableReplicas: 4, Replicas: 4 } s && s.ObservedGeneration == d.Metadata.Generation && all.Count == 4;
        }, "the rollout to complete", 120);
        var fresh = await WaitReadyPodsAsync(ns, "app=web", 4);
        await WaitRoutedAsync(ns, "web:http", fresh);
        await ExecAsync(client, "touch", "/tmp/stop");
        var answers = (await loop).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        var counts = answers.GroupBy(a => a).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"{answers.Length} requests during the rollout: {string.Join(", ", counts.Select(c => $"{c.Key}={c.Value}"))}");
        Assert.True(answers.Length > 50, $"only {answers.Length} requests were made");
        Assert.Equal(0, counts.GetValueOrDefault("FAIL"));
        Assert.True(counts.ContainsKey("v1") && counts.ContainsKey("v2"), "both versions answered during the rollout");
        Assert.Equal("v2", answers[^1]);
        Assert.All(answers, a => Assert.Contains(a, new[] { "v1", "v2" }));
    }

    // ------------------------------------------------------------------ helpers

    private static Deployment Web(string name, int replicas) =>
        Manifests.Deployment(name, replicas, new PodSpec { Containers = [HttpdContainer()], TerminationGracePeriodSeconds = 1, Tolerations = RideOutAgentRestarts });

    /// <summary>These tests restart agents on purpose; their pods stay bound to an unreachable node
    /// for a minute instead of the control plane's 5 s, as a Kubernetes user would say it, so a
    /// slow restart on a busy machine is not taken for a lost node (eviction is NodeFaultTests').</summary>
    private static readonly IReadOnlyList<Toleration> RideOutAgentRestarts =
    [
        new Toleration { Key = "node.kubernetes.io/unreachable", Operator = "Exists", Effect = "NoExecute", TolerationSeconds = 60 },
        new Toleration { Key = "node.kubernetes.io/not-ready", Operator = "Exists", Effect = "NoExecute", TolerationSeconds = 60 },
    ];

    private static Container HttpdContainer() => new()
    {
        Name = "main",
        Image = Image,
        Command = ServeOwnAddress,
        Ports = [new ContainerPort { Name = "http", Port = 8080 }],
        ReadinessProbe = new Probe { HttpGet = new HttpGetAction { Path = "/ready", Port = "http" }, PeriodSeconds = 1, FailureThreshold = 1 },
    };

    private static Service ClusterIPService(string app) => new()
    {
        Metadata = new ObjectMeta { Name = app },
        Spec = new ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "kept" }, Ports = [new ServicePort { Port = 80, TargetPort = "http" }] },
    };

    /// <summary>A client pod on each of the first <paramref name="count"/> nodes, also serving its
    /// own address (labels role=client, client=NODE).</summary>
    private async Task<List<Pod>> StartClientsAsync(string ns, int count = 3)
    {
        foreach (var node in Cluster.Nodes.Take(count))
        {
            await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", new Pod
            {
                Metadata = new ObjectMeta { Name = $"client-n{node.Index}", Labels = new Dictionary<string, string> { ["role"] = "client", ["client"] = node.Name } },
                Spec = ContainerdFixture.OnNode(new PodSpec { Containers = [HttpdContainer()], TerminationGracePeriodSeconds = 1, Tolerations = RideOutAgentRestarts }, node.Name),
            });
        }
        return [.. (await WaitReadyPodsAsync(ns, "role=client", count)).OrderBy(p => p.Metadata.Name, StringComparer.Ordinal)];
    }

    private async Task<string> NewNamespaceAsync()
    {
        var ns = await fixture.ControlPlane.NewNamespaceAsync("mn");
        _namespaces.Add(ns);
        return ns;
    }

    private async Task<List<Pod>> WaitReadyPodsAsync(string ns, string selector, int count)
    {
        List<Pod> pods = [];
        await WaitAsync(async () =>
        {
            pods = [.. (await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods?labelSelector={Uri.EscapeDataString(selector)}")).Where(p => p.Metadata.DeletionTimestamp is null)];
            return pods.Count == count && pods.All(p => p.IsReady() && p.Status?.PodIP is not null);
        }, $"{count} ready pods {selector}", 90, () => string.Join('\n', pods.Select(p => $"{p.Metadata.Name} on {p.Spec.NodeName}: {ResourceJson.SerializeToString(p.Status)}")));
        return pods;
    }

    /// <summary>Waits until every node DNATs the service port to exactly these pods.</summary>
    private async Task WaitRoutedAsync(string ns, string servicePort, IReadOnlyList<Pod> pods, int timeoutSeconds = 30)
    {
        var chain = ProxyRules.ServiceChain($"{ns}/{servicePort}", "TCP");
        var expected = pods.Select(p => p.Status!.PodIP!).Order().ToList();
        var seen = new Dictionary<string, List<string>>();
        await WaitAsync(async () =>
        {
            foreach (var node in Cluster.Nodes)
            {
                seen[node.Name] = [.. DnatTargets(await Cluster.IptablesSaveAsync(node), chain).Order()];
            }
            return seen.Values.All(ips => ips.SequenceEqual(expected));
        }, $"{ns}/{servicePort} routed to {string.Join(", ", expected)} on every node", timeoutSeconds,
            () => string.Join('\n', seen.Select(s => $"{s.Key}: {string.Join(", ", s.Value)}"))
                + "\npods: " + string.Join("; ", Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods").GetAwaiter().GetResult()
                    .Select(p => $"{p.Metadata.Name} {p.Status?.PodIP} ready={p.IsReady()} deleting={p.Metadata.DeletionTimestamp is not null}"))
                + "\nreplicasets: " + string.Join("; ", Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets").GetAwaiter().GetResult()
                    .Select(r => $"{r.Metadata.Name} rev={r.Metadata.Annotations?.GetValueOrDefault("deployment.kubernetes.io/revision")} spec={r.Spec.Replicas} ready={r.Status?.ReadyReplicas}"))
                + "\nevents: " + string.Join("; ", Api.ListAsync<Event>($"/api/v1/namespaces/{ns}/events").GetAwaiter().GetResult()
                    .Select(e => $"{e.Reason}: {e.Message}")));
    }

    private static IEnumerable<string> DnatTargets(string save, string chain) =>
        save.Split('\n').Where(l => l.StartsWith($"-A {chain} ", StringComparison.Ordinal) && !l.Contains("--update", StringComparison.Ordinal))
            .Select(l => DnatTarget().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value);

    [GeneratedRegex(@"--to-destination ([0-9.]+):")]
    private static partial Regex DnatTarget();

    /// <summary>iptables-save of the node without its comment lines and counters.</summary>
    private async Task<string> NatTableAsync(ClusterNode node) =>
        string.Join('\n', (await Cluster.IptablesSaveAsync(node)).Split('\n').Where(l => !l.StartsWith('#')).Select(l => Counters().Replace(l, "[0:0]")));

    [GeneratedRegex(@"\[\d+:\d+\]")]
    private static partial Regex Counters();

    /// <summary>Runs <paramref name="n"/> wget requests inside the client pod, one after another;
    /// how many answers came from each address ("FAIL" for failed requests).</summary>
    private async Task<Dictionary<string, int>> RequestsAsync(Pod client, string url, int n, bool allowFailures = false)
    {
        // busybox wget crashes in this image (static glibc resolving), so HTTP/1.0 through nc; the
        // response's last line is the body.
        var script = $"i=0; while [ $i -lt {n.ToString(CultureInfo.InvariantCulture)} ]; do r=$({HttpGet(url)}); [ -n \"$r\" ] || r=FAIL; echo \"$r\"; i=$((i+1)); done";
        var text = await ExecAsync(client, "sh", "-c", script);
        var counts = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
        if (!allowFailures)
        {
            Assert.False(counts.ContainsKey("FAIL"), $"{counts.GetValueOrDefault("FAIL")} of {n} requests to {url} from {client.Metadata.Name} failed\n{Cluster.Describe()}");
        }
        return counts;
    }

    /// <summary>A shell pipeline that GETs the URL's root and prints the body's last line.</summary>
    private static string HttpGet(string url)
    {
        var uri = new Uri(url);
        return $"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {uri.Host} {uri.Port.ToString(CultureInfo.InvariantCulture)} | tail -n 1";
    }

    /// <summary>One GET from a namespace of the machine (a node, the hub), with busybox's nc.</summary>
    private static async Task<string> GetAsync(Func<string[], Task<string>> exec, string url) =>
        (await exec(["sh", "-c", HttpGet(url).Replace("| nc ", "| busybox nc ", StringComparison.Ordinal)])).Trim();

    private Task<string> ExecAsync(Pod pod, params string[] command)
    {
        var id = pod.Status!.ContainerStatuses![0].ContainerID!.Split("://")[^1];
        return Cluster.ContainerExecAsync(Cluster.NodeNamed(pod.Spec.NodeName!), id, command);
    }

    private async Task WaitAsync(Func<Task<bool>> condition, string what, int seconds = 30, Func<string>? detail = null)
    {
        try
        {
            await Eventually.True(condition, what, TimeSpan.FromSeconds(seconds));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\n{detail?.Invoke()}\n{Cluster.Describe()}", ex);
        }
    }
}
