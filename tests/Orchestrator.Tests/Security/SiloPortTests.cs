using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Grains.Security;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Security;

/// <summary>
/// The silo port speaks mutual TLS and accepts only silo certificates of the cluster CA: a
/// plain-TCP peer, a peer with a certificate of another CA and a peer with a mere client
/// certificate of the cluster CA are all cut off at the handshake.
/// </summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class SiloPortTests(ControlPlaneFixture cp)
{
    private CertificateAuthority Ca => cp.Services.GetRequiredService<ClusterCredentials>().Ca;

    [Fact]
    public async Task ASiloCertificateOfTheClusterCaCompletesTheHandshake()
    {
        using var certificate = Ca.IssueSilo(DateTimeOffset.UtcNow);

        await using var stream = await HandshakeAsync(certificate);

        Assert.True(stream.IsMutuallyAuthenticated);
    }

    [Fact]
    public async Task ASiloCertificateOfAnotherCaIsRefused()
    {
        using var other = CertificateAuthority.Create("another-cluster", DateTimeOffset.UtcNow);
        using var certificate = other.IssueSilo(DateTimeOffset.UtcNow);

        await AssertRefusedAsync(certificate);
    }

    [Fact]
    public async Task AClientCertificateOfTheClusterCaIsNoSilo()
    {
        using var certificate = Ca.IssueClient(CertificateAuthority.SiloCommonName, [CertificateAuthority.SiloGroup], DateTimeOffset.UtcNow);

        await AssertRefusedAsync(certificate);
    }

    [Fact]
    public async Task APlainTcpPeerGetsNothing()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", cp.SiloPort);
        var stream = tcp.GetStream();
        // What an Orleans peer sends first (a preamble) is not a TLS ClientHello.
        await stream.WriteAsync(new byte[64]);
        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var read = await ReadOrResetAsync(stream, buffer, timeout.Token);

        Assert.Equal(0, read);
    }

    private static async Task<int> ReadOrResetAsync(NetworkStream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await stream.ReadAsync(buffer, cancellationToken);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private async Task AssertRefusedAsync(X509Certificate2 certificate)
    {
        var refused = await Record.ExceptionAsync(async () =>
        {
            await using var stream = await HandshakeAsync(certificate);
            // TLS 1.3: the server's verdict on the client certificate arrives after the
            // client's handshake completed, with the first read.
            var read = await stream.ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            if (read == 0)
            {
                throw new IOException("closed by the silo");
            }
        });

        Assert.True(refused is AuthenticationException or IOException, $"expected the handshake to fail, got {refused?.GetType().Name ?? "success"}: {refused?.Message}");
    }

    private async Task<SslStream> HandshakeAsync(X509Certificate2 certificate)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", cp.SiloPort);
        var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        var ca = Ca.Certificate;
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = CertificateAuthority.SiloCommonName,
            ClientCertificates = [certificate],
            RemoteCertificateValidationCallback = (_, served, _, _) => served is not null && CertificateAuthority.ChainsTo(ca, new X509Certificate2(served)),
        });
        return ssl;
    }
}
