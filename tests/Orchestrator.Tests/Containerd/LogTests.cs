using System.Runtime.Versioning;
using Orchestrator.Model;

namespace Orchestrator.Tests.Containerd;

/// <summary>Container logs through the API (GET .../pods/{name}/log), read from the agent's log
/// files of real containers.</summary>
[Collection(ContainerdCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class LogTests(ContainerdFixture fixture) : ContainerdTestBase(fixture)
{
    [Fact]
    public async Task LogsAreReadableWithContainerTailAndFollow()
    {
        var ns = await NewNamespaceAsync();
        var pod = PodOf("talker",
            // The last write is followed by a pause: containerd 1.6's shim, logging to a file,
            // closes that file when stdout reaches its end even if stderr's copy has not caught
            // up, so stderr written in the very last moment of a container can be lost (its
            // copyPipes hands stdout the bare file instead of the shared, counted one).
            Busybox("counter", "sh", "-c", "sleep 0.5; for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done; echo to-stderr >&2; sleep 1"),
            Busybox("other", "sh", "-c", "echo other; exec sleep 3600"));
        await CreatePodAsync(ns, pod with { Spec = pod.Spec with { RestartPolicy = RestartPolicy.Never } });
        await WaitPodAsync(ns, "talker", p => IsRunning(p, "counter"), "counter running");

        // A follow started while the container runs streams until it exits.
        var followed = await LogAsync(ns, "talker", "container=counter&follow=true");
        Assert.Equal("line 1\nline 2\nline 3\nline 4\nline 5\nto-stderr\n", followed);

        await WaitPodAsync(ns, "talker", p => StatusOf(p, "counter")?.State?.Terminated?.Reason == "Completed", "counter completed");
        Assert.Equal("line 5\nto-stderr\n", await LogAsync(ns, "talker", "container=counter&tailLines=2"));
        Assert.Equal("line 1\nli", await LogAsync(ns, "talker", "container=counter&limitBytes=9"));
        Assert.Equal("other\n", await LogAsync(ns, "talker", "container=other"));
        Assert.Equal("other\n", await LogAsync(ns, "talker", "container=other&tailLines=1"));
    }
}
