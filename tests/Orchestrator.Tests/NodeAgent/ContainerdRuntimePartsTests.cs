using System.Runtime.Versioning;
using System.Text;
using System.Text.RegularExpressions;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeAgent;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.NodeAgent.Runtime.Containerd;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.NodeProtocol;

namespace Orchestrator.Tests.NodeAgent;

/// <summary>The parts of the containerd runtime that need neither root nor containerd.</summary>
[SupportedOSPlatform("linux")]
public sealed partial class ContainerdRuntimePartsTests
{
    [Theory]
    [InlineData("main")]
    [InlineData("a--b")]
    [InlineData("a-very-long-container-name-that-goes-on-and-on-for-sixty-three-c")]
    [InlineData("x")]
    public void ContainerIdsAreValidForContainerd(string name)
    {
        var uid = Guid.NewGuid().ToString();
        var id = ContainerLabels.ContainerId(uid, name, 12);
        Assert.Matches(ContainerdIdentifier(), id);
        Assert.True(id.Length <= 76, id);
        Assert.NotEqual(id, ContainerLabels.ContainerId(uid, name, 13));
    }

    [Fact]
    public void ContainerIdsOfSimilarNamesDiffer()
    {
        var uid = Guid.NewGuid().ToString();
        Assert.NotEqual(ContainerLabels.ContainerId(uid, "a--b", 0), ContainerLabels.ContainerId(uid, "a-b", 0));
        Assert.NotEqual(
            ContainerLabels.ContainerId(uid, "a-very-long-container-name-that-goes-on-and-on-1", 0),
            ContainerLabels.ContainerId(uid, "a-very-long-container-name-that-goes-on-and-on-2", 0));
    }

    [Theory]
    [InlineData("busybox", "docker.io/library/busybox:latest")]
    [InlineData("busybox:1", "docker.io/library/busybox:1")]
    [InlineData("library/busybox:1", "docker.io/library/busybox:1")]
    [InlineData("me/app", "docker.io/me/app:latest")]
    [InlineData("localhost/busybox:test", "localhost/busybox:test")]
    [InlineData("localhost:5000/app", "localhost:5000/app:latest")]
    [InlineData("registry.example/team/app:v2", "registry.example/team/app:v2")]
    [InlineData("busybox@sha256:abc", "docker.io/library/busybox@sha256:abc")]
    public void ImageNamesAreNormalisedAsDockerDoes(string image, string expected) =>
        Assert.Equal(expected, ImageReference.Normalize(image));

    [Fact]
    public async Task LogsReadByTailOffsetAndLimit()
    {
        using var dir = new TempDirectory();
        var logs = new ContainerLogs(dir.Path);
        var path = logs.Prepare("uid", "c", 0);
        await File.WriteAllTextAsync(path, "one\ntwo\nthree\n");
        var request = new LogRequest { PodUid = "uid", Container = "c" };

        Assert.Equal("one\ntwo\nthree\n", (await logs.ReadAsync(path, request, true, default)).Text);
        Assert.Equal("two\nthree\n", (await logs.ReadAsync(path, request with { TailLines = 2 }, true, default)).Text);
        Assert.Equal("", (await logs.ReadAsync(path, request with { TailLines = 0 }, true, default)).Text);
        Assert.Equal("one\ntwo\nthree\n", (await logs.ReadAsync(path, request with { TailLines = 10 }, true, default)).Text);
        var first = await logs.ReadAsync(path, request with { MaxBytes = 5 }, true, default);
        Assert.Equal("one\nt", first.Text);
        Assert.Equal(5, first.NextOffset);
        var rest = await logs.ReadAsync(path, request with { Offset = first.NextOffset }, false, default);
        Assert.Equal("wo\nthree\n", rest.Text);
        Assert.False(rest.Running);
        Assert.Equal(14, rest.NextOffset);
        // Nothing new past the end; a follow keeps its place.
        Assert.Equal(("", 14L), ((await logs.ReadAsync(path, request with { Offset = 14 }, true, default)).Text, 14L));
    }

    [Fact]
    public async Task LogsWithoutTrailingNewlineAndSplitCharacters()
    {
        using var dir = new TempDirectory();
        var logs = new ContainerLogs(dir.Path);
        var path = logs.Prepare("uid", "c", 1);
        await File.WriteAllBytesAsync(path, Encoding.UTF8.GetBytes("a\nb\nélan"));
        var request = new LogRequest { PodUid = "uid", Container = "c" };
        Assert.Equal("élan", (await logs.ReadAsync(path, request with { TailLines = 1 }, true, default)).Text);
        // "é" is two bytes: a limit that cuts it leaves it for the next read.
        var cut = await logs.ReadAsync(path, request with { Offset = 4, MaxBytes = 1 }, true, default);
        Assert.Equal(("", 4L), (cut.Text, cut.NextOffset));
        Assert.Equal("é", (await logs.ReadAsync(path, request with { Offset = 4, MaxBytes = 2 }, true, default)).Text);
        Assert.False((await logs.ReadAsync(Path.Combine(dir.Path, "missing"), request, false, default)).Running);
    }

    [Fact]
    public async Task HostPathsAreCheckedAgainstTheAllowedRootsAfterResolvingLinks()
    {
        using var dir = new TempDirectory();
        var allowed = Path.Combine(dir.Path, "allowed");
        Directory.CreateDirectory(allowed);
        File.CreateSymbolicLink(Path.Combine(allowed, "escape"), "/etc");
        var volumes = new PodVolumes(new NodeAgentOptions { DataDirectory = Path.Combine(dir.Path, "data"), AllowedHostPathRoots = [allowed] });

        Assert.Equal([$"type=bind,src={allowed}/new,dst=/data,options=rbind:rw"],
            await volumes.PrepareAsync(PodWith(allowed + "/new", "DirectoryOrCreate"), PodWith(allowed + "/new", "").Spec.Containers[0], default));
        Assert.True(Directory.Exists(Path.Combine(allowed, "new")));
        await volumes.PrepareAsync(PodWith(allowed + "/f/file", "FileOrCreate"), PodWith("", "").Spec.Containers[0], default);
        Assert.True(File.Exists(Path.Combine(allowed, "f", "file")));

        foreach (var (path, type) in new[] { ("/etc", ""), (allowed + "/escape", ""), (allowed + "/../x", ""), (allowed + "x", ""), (allowed + "/missing", "Directory"), (allowed + "/new", "File") })
        {
            var error = await Assert.ThrowsAsync<RuntimeException>(() => volumes.PrepareAsync(PodWith(path, type), PodWith(path, type).Spec.Containers[0], default));
            Assert.Equal("CreateContainerConfigError", error.Reason);
            Assert.Contains(path, error.Message);
        }
    }

    [Fact]
    public void OptionsValidationSaysWhatToSet()
    {
        var validator = new NodeAgentOptionsValidator();
        Assert.True(validator.Validate(null, new NodeAgentOptions { NodeName = "n1" }).Succeeded);
        var result = validator.Validate(null, new NodeAgentOptions
        {
            NodeName = "n1",
            ContainerdNamespace = "bad namespace",
            BridgeName = "a-bridge-name-longer-than-15",
            DataDirectory = "relative",
            AllowedHostPathRoots = ["tmp"],
            ImagePullTimeout = TimeSpan.Zero,
        });
        Assert.False(result.Succeeded);
        foreach (var option in new[] { "ContainerdNamespace", "BridgeName", "DataDirectory", "AllowedHostPathRoots", "ImagePullTimeout" })
        {
            Assert.Contains($"Agent:{option}", result.FailureMessage);
        }
        // The fake runtime needs none of it.
        Assert.True(validator.Validate(null, new NodeAgentOptions { NodeName = "n1", Runtime = "fake", BridgeName = "" }).Succeeded);
        Assert.Equal(["/tmp", "/var/lib/orchestrator-agent/host"], new NodeAgentOptions().EffectiveAllowedHostPathRoots);
    }

    private static Pod PodWith(string hostPath, string type) => new()
    {
        Metadata = new ObjectMeta { Name = "p", Namespace = "ns", Uid = "uid-1" },
        Spec = new PodSpec
        {
            Containers = [new Container { Name = "c", Image = "i", VolumeMounts = [new VolumeMount { Name = "h", MountPath = "/data" }] }],
            Volumes = [new Volume { Name = "h", HostPath = new HostPathVolumeSource { Path = hostPath, Type = type } }],
        },
    };

    // containerd's identifiers.Validate.
    [GeneratedRegex("^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$")]
    private static partial Regex ContainerdIdentifier();
}
