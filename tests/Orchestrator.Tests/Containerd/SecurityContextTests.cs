using System.Runtime.Versioning;
using Orchestrator.Model;

namespace Orchestrator.Tests.Containerd;

/// <summary>A container's security context takes effect in the process containerd runs: each
/// container prints what its kernel view says, the test reads it from the logs.</summary>
[Collection(ContainerdCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class SecurityContextTests(ContainerdFixture fixture) : ContainerdTestBase(fixture)
{
    private static Container With(Container c, SecurityContext sc) => c with { SecurityContext = sc };

    [Fact]
    public async Task ReadOnlyRootCapabilitiesNoNewPrivsAndPrivilegedTakeEffect()
    {
        var ns = await NewNamespaceAsync(privileged: true);
        const string chown = "touch /f && chown 1:1 /f 2>/dev/null && echo chowned || echo denied";
        var pod = PodOf("secure",
            With(Busybox("ro", "sh", "-c", "touch /f 2>/dev/null && echo wrote || echo refused"), new() { ReadOnlyRootFilesystem = true }),
            Busybox("chown", "sh", "-c", chown),
            With(Busybox("nochown", "sh", "-c", chown), new() { Capabilities = new() { Drop = ["CHOWN"] } }),
            With(Busybox("dropall", "sh", "-c", "grep CapEff /proc/self/status"), new() { Capabilities = new() { Drop = ["ALL"], Add = ["NET_BIND_SERVICE"] } }),
            With(Busybox("nnp", "sh", "-c", "grep NoNewPrivs /proc/self/status"), new() { AllowPrivilegeEscalation = false }),
            With(Busybox("escalate", "sh", "-c", "grep NoNewPrivs /proc/self/status"), new() { AllowPrivilegeEscalation = true }),
            With(Busybox("privileged", "sh", "-c", "grep CapEff /proc/self/status"), new() { Privileged = true }));
        await CreatePodAsync(ns, pod with { Spec = pod.Spec with { RestartPolicy = RestartPolicy.Never } });
        await WaitPodAsync(ns, "secure", p => p.Spec.Containers.All(c => StatusOf(p, c.Name)?.State?.Terminated is not null), "all containers done");

        async Task<string> Log(string container) => (await LogAsync(ns, "secure", $"container={container}")).Trim();
        Assert.Equal("refused", await Log("ro"));
        Assert.Equal("chowned", await Log("chown"));
        Assert.Equal("denied", await Log("nochown"));
        // Only CAP_NET_BIND_SERVICE (bit 10) is left.
        Assert.Equal("CapEff:\t0000000000000400", await Log("dropall"));
        Assert.Equal("NoNewPrivs:\t1", await Log("nnp"));
        Assert.Equal("NoNewPrivs:\t0", await Log("escalate"));
        // Privileged holds CAP_SYS_ADMIN (bit 21), which no default container has; the full set
        // depends on what the machine's own bounding set allows.
        var privileged = Convert.ToUInt64((await Log("privileged")).Split('\t')[1], 16);
        Assert.NotEqual(0UL, privileged & (1UL << 21));
    }

    [Fact]
    public async Task RunAsNonRootRefusesAnImageThatRunsAsRoot()
    {
        var ns = await NewNamespaceAsync();
        var pod = PodOf("rootless", Busybox("c", "sleep", "3600")) with { };
        pod = pod with { Spec = pod.Spec with { SecurityContext = new PodSecurityContext { RunAsNonRoot = true } } };
        await CreatePodAsync(ns, pod);
        var waiting = await WaitPodAsync(ns, "rootless", p => StatusOf(p, "c")?.State?.Waiting?.Reason == "CreateContainerConfigError", "CreateContainerConfigError");
        Assert.Equal("container has runAsNonRoot and image will run as root", StatusOf(waiting, "c")!.State!.Waiting!.Message);
    }
}
