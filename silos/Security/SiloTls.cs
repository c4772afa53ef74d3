using System.Security.Cryptography.X509Certificates;
using Orchestrator.Grains.Security;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace Orchestrator.Silo.Security;

/// <summary>
/// Every Orleans port of a silo speaks mutual TLS with certificates of the cluster CA, so a process
/// without one can neither join the cluster nor call a grain: a plain-TCP peer or one with a
/// certificate of another CA is cut off at the handshake.
/// <list type="bullet">
/// <item>Silo-to-silo: silo certificates on both ends (issued at start from the CA every silo shares).</item>
/// <item>Gateway (grain clients, node agents): the silo certificate serves, and the client must show a
/// client certificate of the CA (the admin kubeconfig's, or a node's from the node bootstrap). The
/// certificate only admits the connection; who makes each call is the bearer token the call
/// carries (<c>CallCredentials.TokenKey</c>), because a grain never sees the connection.</item>
/// </list>
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
            o.ConfigureSiloInboundConnection(c => c.UseServerTls(SiloOptions(certificate, credentials, time)));
            o.ConfigureSiloOutboundConnection(c => c.UseClientTls(SiloOptions(certificate, credentials, time)));
            o.ConfigureGatewayInboundConnection(c => c.UseServerTls(GatewayOptions(certificate, credentials, time)));
        });
    }

    private static TlsOptions SiloOptions(X509Certificate2 certificate, ClusterCredentials credentials, TimeProvider time)
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

    private static TlsOptions GatewayOptions(X509Certificate2 certificate, ClusterCredentials credentials, TimeProvider time)
    {
        var options = new TlsOptions
        {
            LocalCertificate = certificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
        };
        // Any client certificate of the CA, valid now: a node's, the admin's, a silo's.
        options.RemoteCertificateValidation = (remote, _, _) => remote is not null && credentials.Ca.IsClientCertificate(remote, time.GetUtcNow());
        return options;
    }
}
