using System.Runtime.Versioning;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Containerd;

/// <summary>Pods as real containers: networking, restarts, probes, deletion, limits.</summary>
[Collection(ContainerdCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class PodLifecycleTests(ContainerdFixture fixture) : ContainerdTestBase(fixture)
{
    [Fact]
    public async Task DeploymentOfHttpdPodsServesOnPodIps()
    {
        var ns = await NewNamespaceAsync();
        var httpd = Busybox("httpd", "httpd", "-f", "-p", "8080", "-h", "/var/www") with
        {
            Ports = [new ContainerPort { Port = 8080 }],
            ReadinessProbe = new Probe { HttpGet = new HttpGetAction { Path = "/", Port = 8080 }, PeriodSeconds = 1 },
        };
        var deployment = Manifests.Deployment("web", 3, PodOf("x", httpd).Spec);
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", deployment);
        await Eventually.True(async () =>
            (await Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/web")).Status?.AvailableReplicas == 3,
            "3 available replicas", TimeSpan.FromSeconds(60));

        var pods = await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods");
        Assert.Equal(3, pods.Count);
        var node = await Api.GetAsync<Node>($"/api/v1/nodes/{Fixture.NodeName}");
        var cidr = Cidr.Parse(node.Spec.PodCIDR!);
        Assert.Equal(3, pods.Select(p => p.Status!.PodIP).Distinct().Count());
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var pod in pods)
        {
            Assert.Equal(PodPhase.Running, pod.Status!.Phase);
            Assert.True(pod.IsReady());
            Assert.True(cidr.Contains(pod.Status.PodIP!), $"{pod.Status.PodIP} is outside the node's pod CIDR {cidr}");
            Assert.StartsWith("containerd://", StatusOf(pod, "httpd")!.ContainerID);
            // The test runs in the node's (root) network namespace: it reaches pods over the bridge.
            Assert.Equal("hello from busybox httpd\n", await http.GetStringAsync($"http://{pod.Status.PodIP}:8080/"));
        }
    }

    [Fact]
    public async Task ExitedContainerRestartsWithBackoff()
    {
        var ns = await NewNamespaceAsync();
        await CreatePodAsync(ns, PodOf("crash", Busybox("main", "sh", "-c", "echo started; exit 3")));
        var pod = await WaitPodAsync(ns, "crash", p => StatusOf(p, "main")?.RestartCount >= 2 && StatusOf(p, "main")?.LastState?.Terminated is not null,
            "restarted twice", seconds: 30);
        var status = StatusOf(pod, "main")!;
        Assert.Equal(3, status.LastState!.Terminated!.ExitCode);
        Assert.Equal("Error", status.LastState.Terminated.Reason);
        Assert.NotNull(status.LastState.Terminated.FinishedAt);
        Assert.Equal(PodPhase.Running, pod.Status!.Phase);
        // Between restarts Kubernetes shows CrashLoopBackOff.
        await WaitPodAsync(ns, "crash", p => StatusOf(p, "main")?.State?.Waiting?.Reason == "CrashLoopBackOff", "CrashLoopBackOff");
        // The previous attempt's log is still there.
        Assert.Equal("started\n", await LogAsync(ns, "crash", "previous=true"));
    }

    [Fact]
    public async Task FailingLivenessProbeRestartsTheContainer()
    {
        var ns = await NewNamespaceAsync();
        var main = Busybox("main", "sh", "-c", "touch /tmp/alive; exec sleep 3600") with
        {
            LivenessProbe = new Probe { Exec = new ExecAction { Command = ["cat", "/tmp/alive"] }, PeriodSeconds = 1, FailureThreshold = 1 },
        };
        await CreatePodAsync(ns, PodOf("live", main));
        var pod = await WaitPodAsync(ns, "live", p => IsRunning(p, "main"), "running");
        var first = ContainerId(pod, "main");
        // Make the probe fail: the agent kills the container and the pod worker starts a new one
        // (whose fresh filesystem has the file again, so it stays alive).
        var exec = await Fixture.Runtime.ExecAsync(first, ["rm", "/tmp/alive"], TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.Equal(0, exec.ExitCode);
        pod = await WaitPodAsync(ns, "live", p => StatusOf(p, "main")?.RestartCount == 1 && IsRunning(p, "main"), "restarted once by liveness");
        Assert.NotEqual(first, ContainerId(pod, "main"));
        Assert.Equal(137, StatusOf(pod, "main")!.LastState!.Terminated!.ExitCode);
    }

    [Fact]
    public async Task FailingReadinessProbeKeepsThePodOutOfReady()
    {
        var ns = await NewNamespaceAsync();
        var main = Busybox("main", "sleep", "3600") with
        {
            ReadinessProbe = new Probe { Exec = new ExecAction { Command = ["cat", "/tmp/ready"] }, PeriodSeconds = 1 },
        };
        await CreatePodAsync(ns, PodOf("ready", main));
        var pod = await WaitPodAsync(ns, "ready", p => IsRunning(p, "main") && p.Status?.Conditions?.Any(c => c.Type == PodConditionType.Ready && c.Reason == "ContainersNotReady") == true,
            "running and not ready");
        Assert.False(pod.IsReady());
        var id = ContainerId(pod, "main");
        // The probe decides: it passes, the pod turns Ready; it fails again, the pod leaves Ready.
        Assert.Equal(0, (await Fixture.Runtime.ExecAsync(id, ["touch", "/tmp/ready"], TimeSpan.FromSeconds(5), CancellationToken.None)).ExitCode);
        await WaitPodAsync(ns, "ready", p => p.IsReady(), "ready once the probe passes");
        Assert.Equal(0, (await Fixture.Runtime.ExecAsync(id, ["rm", "/tmp/ready"], TimeSpan.FromSeconds(5), CancellationToken.None)).ExitCode);
        pod = await WaitPodAsync(ns, "ready", p => !p.IsReady(), "not ready once the probe fails three times");
        Assert.Equal(0, StatusOf(pod, "main")!.RestartCount);
    }

    [Fact]
    public async Task ExecHonoursItsTimeout()
    {
        var ns = await NewNamespaceAsync();
        await CreatePodAsync(ns, PodOf("exec", Busybox("main", "sleep", "3600")));
        var id = ContainerId(await WaitPodAsync(ns, "exec", p => IsRunning(p, "main"), "running"), "main");
        var ok = await Fixture.Runtime.ExecAsync(id, ["sh", "-c", "echo out; echo err >&2; exit 7"], TimeSpan.FromSeconds(10), CancellationToken.None);
        Assert.Equal(7, ok.ExitCode);
        Assert.Contains("out", ok.Output);
        Assert.Contains("err", ok.Output);
        var slow = await Fixture.Runtime.ExecAsync(id, ["sleep", "300"], TimeSpan.FromSeconds(1), CancellationToken.None);
        Assert.Equal(-1, slow.ExitCode);
        Assert.Contains("timed out", slow.Output);
        // The timed-out process does not linger in the container.
        await Eventually.True(async () =>
            !(await Fixture.Runtime.ExecAsync(id, ["ps", "-o", "args"], TimeSpan.FromSeconds(10), CancellationToken.None)).Output.Contains("sleep 300", StringComparison.Ordinal),
            "the timed-out exec killed");
    }

    [Fact]
    public async Task DeletingAPodStopsItsContainersAndRemovesItsNetworkNamespace()
    {
        var ns = await NewNamespaceAsync();
        var pod = PodOf("doomed",
            // PID 1 ignores SIGTERM unless it traps it: this one is killed when the grace ends...
            Busybox("stubborn", "sleep", "3600"),
            // ...and this one leaves on SIGTERM.
            Busybox("polite", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"));
        pod = pod with { Spec = pod.Spec with { TerminationGracePeriodSeconds = 2 } };
        var created = await CreatePodAsync(ns, pod);
        var uid = created.Metadata.Uid!;
        await WaitPodAsync(ns, "doomed", p => IsRunning(p, "stubborn") && IsRunning(p, "polite"), "both running");
        var netns = Path.Combine(Fixture.AgentOptions.NetnsDirectory, uid);
        Assert.True(File.Exists(netns));
        Assert.Contains((await Fixture.Runtime.ListSandboxesAsync(CancellationToken.None)), s => s.PodUid == uid);

        await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/pods/doomed");
        // The grace period (2 s) plus the agent's passes; nothing waits for a fixed time.
        await WaitPodGoneAsync(ns, "doomed", seconds: 15);
        Assert.DoesNotContain(await Fixture.Runtime.ListContainersAsync(CancellationToken.None), c => c.PodUid == uid);
        Assert.DoesNotContain(await Fixture.Runtime.ListSandboxesAsync(CancellationToken.None), s => s.PodUid == uid);
        Assert.False(File.Exists(netns), $"{netns} is left behind");
        var ipam = Path.Combine(Fixture.AgentOptions.DataDirectory, "cni", "networks", "orchestrator");
        Assert.DoesNotContain(Directory.Exists(ipam) ? Directory.EnumerateFiles(ipam).Select(File.ReadAllText) : [], text => text.Contains(uid, StringComparison.Ordinal));
    }

    [Fact]
    public async Task LimitsApplyAndAnOutOfMemoryKillIsReported()
    {
        var ns = await NewNamespaceAsync();
        var hog = Busybox("hog", "sh", "-c", "head -c 200000000 /dev/zero | tail") with
        {
            Resources = new ResourceRequirements { Limits = new Dictionary<string, Quantity> { ["memory"] = new("16Mi") } },
        };
        var capped = Busybox("capped", "sleep", "3600") with
        {
            Resources = new ResourceRequirements { Limits = new Dictionary<string, Quantity> { ["cpu"] = new("500m"), ["memory"] = new("32Mi") } },
        };
        var pod = PodOf("limits", hog, capped);
        await CreatePodAsync(ns, pod with { Spec = pod.Spec with { RestartPolicy = RestartPolicy.Never } });
        pod = await WaitPodAsync(ns, "limits", p => StatusOf(p, "hog")?.State?.Terminated is not null && IsRunning(p, "capped"), "hog ended");
        Assert.Equal("OOMKilled", StatusOf(pod, "hog")!.State!.Terminated!.Reason);
        Assert.Equal(137, StatusOf(pod, "hog")!.State!.Terminated!.ExitCode);
        var id = ContainerId(pod, "capped");
        var cgroup = $"/sys/fs/cgroup/cpu/{Fixture.AgentOptions.ContainerdNamespace}/{id}/cpu.cfs_quota_us";
        if (File.Exists(cgroup))
        {
            Assert.Equal("50000", File.ReadAllText(cgroup).Trim());
            Assert.Equal((32 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
                File.ReadAllText($"/sys/fs/cgroup/memory/{Fixture.AgentOptions.ContainerdNamespace}/{id}/memory.limit_in_bytes").Trim());
        }
        else
        {
            // cgroup v2: "quota period" in cpu.max.
            Assert.Equal("50000 100000", File.ReadAllText($"/sys/fs/cgroup/{Fixture.AgentOptions.ContainerdNamespace}/{id}/cpu.max").Trim());
        }
        Assert.Contains(await Fixture.Runtime.ListContainersAsync(CancellationToken.None), c => c.Id == id && c.State == ContainerRunState.Running);
    }
}
