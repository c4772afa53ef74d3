using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Orchestrator.Grains.Security;
using Orchestrator.Grains.Storage.Credentials;
using Orchestrator.Silo.Security;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Security;

/// <summary>The cluster's credentials outlive restarts, and the serving certificate is renewed
/// before it expires.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CredentialTests
{
    [Fact]
    public async Task ARestartedSiloKeepsItsCaAndAdminToken()
    {
        using var data = new TempDirectory("orch-creds");
        Kubeconfig first;
        await using (var silo = new EmbeddedSiloProcess(data.Path))
        {
            await silo.StartAsync();
            first = Kubeconfig.Read(silo.KubeconfigPath);
        }
        await using var again = new EmbeddedSiloProcess(data.Path);
        await again.StartAsync();

        var second = Kubeconfig.Read(again.KubeconfigPath);
        Assert.Equal(first.CaPem, second.CaPem);
        Assert.Equal(first.Token, second.Token);
        Assert.NotEqual(first.Server, second.Server);
        using var http = again.NewHttpClient();
        Assert.True((await http.GetAsync("/api/v1/namespaces/default")).IsSuccessStatusCode);
    }

    [Fact]
    public async Task TheFileStoreKeepsTheFirstCredentialsAndHidesTheKeys()
    {
        using var data = new TempDirectory("orch-creds");
        var store = new FileCredentialStore(data.Path);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);

        var made = await ClusterCredentials.LoadOrCreateAsync(store, time, CancellationToken.None);
        var loaded = await ClusterCredentials.LoadOrCreateAsync(store, time, CancellationToken.None);

        Assert.Equal(made.CaCertificatePem, loaded.CaCertificatePem);
        Assert.Equal(made.AdminToken, loaded.AdminToken);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(store.Directory, "ca.key")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(store.Directory, "admin.token")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(store.Directory));
    }

    [Fact]
    public async Task TheServingCertificateNamesTheHostAndIsRenewedAMonthBeforeItExpires()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var data = new TempDirectory("orch-creds");
        var credentials = await ClusterCredentials.LoadOrCreateAsync(new FileCredentialStore(data.Path), time, CancellationToken.None);
        using var serving = new ServingCertificate(credentials, new SecuritySettings { ServingCertificateSans = ["api.example.test", "192.0.2.10"] }, time, NullLogger<ServingCertificate>.Instance);
        var original = serving.Current;
        await serving.StartAsync(CancellationToken.None);

        var names = original.Extensions.OfType<System.Security.Cryptography.X509Certificates.X509SubjectAlternativeNameExtension>().Single();
        Assert.Contains("localhost", names.EnumerateDnsNames());
        Assert.Contains("api.example.test", names.EnumerateDnsNames());
        Assert.Contains("kubernetes.default.svc", names.EnumerateDnsNames());
        Assert.Contains(System.Net.IPAddress.Parse("192.0.2.10"), names.EnumerateIPAddresses());
        time.Advance(CertificateAuthority.LeafLifetime - CertificateAuthority.RenewBefore - TimeSpan.FromDays(2));
        Assert.Same(original, serving.Current);
        time.Advance(TimeSpan.FromDays(3));
        await Eventually.True(() => !ReferenceEquals(original, serving.Current), "the renewal", TimeSpan.FromSeconds(10));

        Assert.NotSame(original, serving.Current);
        Assert.True(serving.Current.NotAfter > original.NotAfter);
        await serving.StopAsync(CancellationToken.None);
    }
}
