using System.Runtime.Versioning;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Runtime;

namespace Orchestrator.Tests.Containerd;

/// <summary>What users get wrong: images that do not exist, commands that do not exist, values
/// full of shell syntax, host paths the node does not allow. Nothing crashes; the pod says why.</summary>
[Collection(ContainerdCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class BadInputTests(ContainerdFixture fixture) : ContainerdTestBase(fixture)
{
    [Fact]
    public async Task MissingImagesShowTheirReason()
    {
        var ns = await NewNamespaceAsync();
        await CreatePodAsync(ns, PodOf("images",
            // A registry on a closed loopback port: the pull fails at once, and nothing leaves the machine.
            Busybox("pull", "sleep", "3600") with { Image = "localhost:1/does-not-exist:v1" },
            Busybox("never", "sleep", "3600") with { Image = "localhost/not-here:v1", ImagePullPolicy = "Never" },
            // Always pulls even an image that is present; its registry (localhost:443) is not there.
            Busybox("always", "sleep", "3600") with { ImagePullPolicy = "Always" },
            Busybox("fine", "sleep", "3600")));
        var pod = await WaitPodAsync(ns, "images", p =>
            StatusOf(p, "pull")?.State?.Waiting?.Reason == "ErrImagePull"
            && StatusOf(p, "never")?.State?.Waiting?.Reason == "ErrImageNeverPull"
            && StatusOf(p, "always")?.State?.Waiting?.Reason == "ErrImagePull"
            && IsRunning(p, "fine"), "image errors shown, the good container running");
        Assert.Contains("localhost:1/does-not-exist:v1", StatusOf(pod, "pull")!.State!.Waiting!.Message);
        Assert.Contains("localhost/not-here:v1", StatusOf(pod, "never")!.State!.Waiting!.Message);
    }

    [Fact]
    public async Task MissingCommandIsARunContainerError()
    {
        var ns = await NewNamespaceAsync();
        await CreatePodAsync(ns, PodOf("nocmd", Busybox("main", "no-such-command", "--flag")));
        var pod = await WaitPodAsync(ns, "nocmd", p => StatusOf(p, "main")?.State?.Waiting?.Reason == "RunContainerError", "RunContainerError");
        Assert.Contains("no-such-command", StatusOf(pod, "main")!.State!.Waiting!.Message);
        // The failed start leaves no container behind.
        Assert.DoesNotContain(await Fixture.Runtime.ListContainersAsync(CancellationToken.None), c => c.PodUid == pod.Metadata.Uid);
    }

    [Fact]
    public async Task EnvAndArgsReachTheContainerVerbatim()
    {
        var ns = await NewNamespaceAsync();
        const string Value = "a\"b'c $(echo pwned) `id` ; echo semi && true | cat\nsecond line \\ $HOME *";
        string[] args = ["x; rm -rf /", "$(touch /tmp/pwned)", "multi\nline", "'quoted'", "\"dq\"", ""];
        var main = new Container
        {
            Name = "main",
            Image = ContainerdFixture.Image,
            Command = ["sh", "-c", "printf '<%s>\\n' \"$V\"; for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done; test -e /tmp/pwned && echo PWNED; exec sleep 3600", "sh"],
            Args = args,
            Env = [new EnvVar { Name = "V", Value = Value }],
        };
        await CreatePodAsync(ns, PodOf("verbatim", main));
        await WaitPodAsync(ns, "verbatim", p => IsRunning(p, "main"), "running");
        var expected = $"<{Value}>\n" + string.Concat(args.Select(a => $"[{a}]\n"));
        string log = "";
        await Infrastructure.Eventually.True(async () => (log = await LogAsync(ns, "verbatim")).Length >= expected.Length, "the whole output");
        Assert.Equal(expected, log);
    }

    [Fact]
    public async Task HostPathOutsideTheAllowedRootsIsRefused()
    {
        var uid = Guid.NewGuid().ToString();
        var escape = Path.Combine(Fixture.HostRoot, $"link-{uid[..8]}");
        File.CreateSymbolicLink(escape, "/etc");
        try
        {
            foreach (var path in new[] { "/etc", escape, Fixture.HostRoot + "/../../etc" })
            {
                var pod = PodWithHostPath(uid, path);
                var error = await Assert.ThrowsAsync<RuntimeException>(() =>
                    Fixture.Runtime.StartContainerAsync(pod, pod.Spec.Containers[0], new Sandbox(uid, "t/hostpath", null, null), 0, [], CancellationToken.None));
                Assert.Equal("CreateContainerConfigError", error.Reason);
                Assert.Contains(path, error.Message);
                Assert.Contains(Fixture.HostRoot, error.Message);
            }
        }
        finally
        {
            File.Delete(escape);
        }
        Assert.DoesNotContain(await Fixture.Runtime.ListContainersAsync(CancellationToken.None), c => c.PodUid == uid);

        // Through the API the pod shows the same reason (unless the control plane refuses it first).
        var ns = await NewNamespaceAsync();
        var response = await Api.SendAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/pods",
            Serialization.ResourceJson.SerializeToString(PodWithHostPath(null, "/etc") with { Metadata = new ObjectMeta { Name = "hostpath" } }));
        if (response.IsSuccessStatusCode)
        {
            var pod = await WaitPodAsync(ns, "hostpath", p => StatusOf(p, "main")?.State?.Waiting?.Reason == "CreateContainerConfigError", "CreateContainerConfigError");
            Assert.Contains("/etc", StatusOf(pod, "main")!.State!.Waiting!.Message);
        }
        else
        {
            Assert.Equal(422, (int)response.StatusCode);
        }
    }

    [Fact]
    public async Task EmptyDirIsSharedAndAllowedHostPathsAreMounted()
    {
        // hostPath volumes need a namespace that Pod Security lets have them.
        var ns = await NewNamespaceAsync(privileged: true);
        var hostDir = Path.Combine(Fixture.HostRoot, $"data-{Guid.NewGuid():N}"[..13]);
        var pod = PodOf("volumes",
            Busybox("writer", "sh", "-c", "echo shared > /cache/x; echo host > /host/y; exec sleep 3600") with
            {
                VolumeMounts = [new VolumeMount { Name = "cache", MountPath = "/cache" }, new VolumeMount { Name = "host", MountPath = "/host" }],
            },
            Busybox("reader", "sh", "-c", "while [ ! -f /cache/x ]; do sleep 0.1; done; cat /cache/x; grep ' /cache ' /proc/mounts | cut -d' ' -f1,3; exec sleep 3600") with
            {
                VolumeMounts = [new VolumeMount { Name = "cache", MountPath = "/cache", ReadOnly = true }],
            });
        pod = pod with
        {
            Spec = pod.Spec with
            {
                Volumes =
                [
                    new Volume { Name = "cache", EmptyDir = new EmptyDirVolumeSource { Medium = "Memory" } },
                    new Volume { Name = "host", HostPath = new HostPathVolumeSource { Path = hostDir, Type = "DirectoryOrCreate" } },
                ],
            },
        };
        var created = await CreatePodAsync(ns, pod);
        await WaitPodAsync(ns, "volumes", p => IsRunning(p, "reader") && IsRunning(p, "writer"), "running");
        string log = "";
        await Infrastructure.Eventually.True(async () => (log = await LogAsync(ns, "volumes", "container=reader")).Split('\n').Length > 2, "reader output");
        Assert.Equal("shared\ntmpfs tmpfs\n", log);
        await Infrastructure.Eventually.True(() => File.Exists(Path.Combine(hostDir, "y")), "the host file");
        Assert.Equal("host\n", File.ReadAllText(Path.Combine(hostDir, "y")));

        var podDirectory = Path.Combine(Fixture.AgentOptions.DataDirectory, "pods", created.Metadata.Uid!);
        Assert.True(Directory.Exists(podDirectory));
        await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/pods/volumes");
        await WaitPodGoneAsync(ns, "volumes");
        // The emptyDir (and its tmpfs) went with the pod; the host path stays.
        Assert.False(Directory.Exists(podDirectory));
        Assert.True(File.Exists(Path.Combine(hostDir, "y")));
    }

    private Pod PodWithHostPath(string? uid, string path)
    {
        var pod = PodOf("hostpath", Busybox("main", "sleep", "3600") with
        {
            VolumeMounts = [new VolumeMount { Name = "h", MountPath = "/h" }],
        });
        return pod with
        {
            Metadata = pod.Metadata with { Uid = uid, Namespace = "t" },
            Spec = pod.Spec with { Volumes = [new Volume { Name = "h", HostPath = new HostPathVolumeSource { Path = path } }] },
        };
    }
}
