using System.Security.Cryptography.X509Certificates;
using Orchestrator.Grains.Security;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace Orchestrator.Silo.Security;

/// <summary>
/// Silo-to-silo connections use mutual TLS with silo certificates of the cluster CA (issued at
/// start from the CA every silo shares), so a process without one can neither join the cluster
/// nor take part in its messages: a plain-TCP peer or one with a certificate of another CA is
/// cut off at the handshake.
/// </summary>
public static class SiloTls
{
    /// <summary>Issues this silo's certificate, uses it for silo-to-silo TLS and registers it
    /// (<see cref="SiloCertificate"/>: it also signs the proofs of calls to node agents).</summary>
    public static void UseSiloTls(this ISiloBuilder silo, ClusterCredentials credentials, TimeProvider time)
    {
        var certificate = credentials.Ca.IssueSilo(time.GetUtcNow());
        silo.Services.AddSingleton(new SiloCertificate(certificate));
        silo.Configure<SiloConnectionOptions>(o =>
        {
            o.ConfigureSiloInboundConnection(c => c.UseServerTls(Options(certificate, credentials, time)));
            o.ConfigureSiloOutboundConnection(c => c.UseClientTls(Options(certificate, credentials, time)));
        });
    }

    private static TlsOptions Options(X509Certificate2 certificate, ClusterCredentials credentials, TimeProvider time)
    {
        var options = new TlsOptions
        {
            LocalCertificate = certificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
        };
        options.RemoteCertificateValidation = (remote, _, _) => remote is not null && credentials.Ca.IsSiloCertificate(remote, time.GetUtcNow());
        // Silos dial each other by address; the certificate is checked against the CA above, not by name.
        options.OnAuthenticateAsClient = (_, ssl) => ssl.TargetHost = CertificateAuthority.SiloCommonName;
        return options;
    }
}
