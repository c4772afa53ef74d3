using System.Runtime.Versioning;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Containerd;

/// <summary>The ServiceAccount token projected into real containers.</summary>
[Collection(ContainerdCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class ServiceAccountTokenVolumeTests(ContainerdFixture fixture) : ContainerdTestBase(fixture)
{
    private const string Dir = "/var/run/secrets/kubernetes.io/serviceaccount";

    [Fact]
    public async Task ContainersFindTheirTokenCaAndNamespaceUnlessThePodOptsOut()
    {
        var ns = await NewNamespaceAsync();
        await CreatePodAsync(ns, PodOf("with", Busybox("main", "sleep", "3600")));
        var optOut = PodOf("without", Busybox("main", "sleep", "3600"));
        await CreatePodAsync(ns, optOut with { Spec = optOut.Spec with { AutomountServiceAccountToken = false } });

        var pod = await WaitPodAsync(ns, "with", p => IsRunning(p, "main"), "running");
        var id = ContainerId(pod, "main");
        var nsFile = await Fixture.Runtime.ExecAsync(id, ["cat", $"{Dir}/namespace"], TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.Equal(0, nsFile.ExitCode);
        Assert.Equal(ns, nsFile.Output.Trim());
        var token = await Fixture.Runtime.ExecAsync(id, ["cat", $"{Dir}/token"], TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.Equal(0, token.ExitCode);
        Assert.Equal(3, token.Output.Trim().Split('.').Length);
        // The control plane takes it as the pod's ServiceAccount, bound to this pod.
        var authenticator = Fixture.ControlPlane.Services.GetServices<Grains.Security.ITokenAuthenticator>().OfType<Grains.Security.ServiceAccountTokenAuthenticator>().Single();
        var user = await authenticator.AuthenticateAsync(token.Output.Trim(), default);
        Assert.Equal($"system:serviceaccount:{ns}:default", user!.Name);
        Assert.Equal([pod.Metadata.Uid!], user.Extra[Grains.Security.ServiceAccountTokenAuthenticator.PodUidKey]);
        var ca = await Fixture.Runtime.ExecAsync(id, ["cat", $"{Dir}/ca.crt"], TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", ca.Output);
        // Read-only: a container cannot replace its token.
        var write = await Fixture.Runtime.ExecAsync(id, ["sh", "-c", $"echo x > {Dir}/token"], TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.NotEqual(0, write.ExitCode);

        var without = await WaitPodAsync(ns, "without", p => IsRunning(p, "main"), "running");
        var ls = await Fixture.Runtime.ExecAsync(ContainerId(without, "main"), ["ls", Dir], TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.NotEqual(0, ls.ExitCode);
    }
}
