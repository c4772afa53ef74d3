using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Orchestrator.Grains.Security;

/// <summary>
/// Cluster credentials made up in memory when the silo starts: a stand-in, registered only when
/// the host registers no <see cref="IClusterCredentials"/> of its own (the persistent ones, kept
/// with the cluster's state, replace it). Tokens it signs do not survive a restart and are not
/// accepted by another silo, which has a key of its own.
/// </summary>
public sealed class EphemeralClusterCredentials : IClusterCredentials
{
    /// <summary>The issuer kubeadm and k3s use by default.</summary>
    public const string DefaultIssuer = "https://kubernetes.default.svc.cluster.local";

    public EphemeralClusterCredentials()
    {
        ServiceAccountKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=orchestrator-ca", caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var now = DateTimeOffset.UtcNow;
        using var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
        CaCertificatePem = cert.ExportCertificatePem();
    }

    public string CaCertificatePem { get; }

    public ECDsa ServiceAccountKey { get; }

    public string Issuer => DefaultIssuer;
}
