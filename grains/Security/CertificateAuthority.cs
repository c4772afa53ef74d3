using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Orchestrator.Grains.Security;

/// <summary>
/// The cluster CA: a self-signed ECDSA P-256 certificate made at first start (valid 10 years, as
/// k3s' and kubeadm's CAs), which issues the API's serving certificates and client certificates,
/// and checks that a client certificate is one of its own.
/// </summary>
public sealed class CertificateAuthority : IDisposable
{
    public static readonly TimeSpan CaLifetime = TimeSpan.FromDays(3650);

    /// <summary>Serving and client certificates live one year, as Kubernetes' kubeadm issues them;
    /// the silo renews its serving certificate well before (<see cref="RenewBefore"/>).</summary>
    public static readonly TimeSpan LeafLifetime = TimeSpan.FromDays(365);

    public static readonly TimeSpan RenewBefore = TimeSpan.FromDays(30);

    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private readonly ECDsa _key;

    public CertificateAuthority(X509Certificate2 certificate, ECDsa key)
    {
        Certificate = certificate;
        _key = key;
    }

    /// <summary>The CA certificate (public part).</summary>
    public X509Certificate2 Certificate { get; }

    public string CertificatePem => Certificate.ExportCertificatePem();

    public string KeyPem => _key.ExportPkcs8PrivateKeyPem();

    public static CertificateAuthority Create(string commonName, DateTimeOffset now)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={commonName}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now + CaLifetime);
        return new CertificateAuthority(X509CertificateLoader.LoadCertificate(certificate.Export(X509ContentType.Cert)), key);
    }

    public static CertificateAuthority FromPem(string certificatePem, string keyPem)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(keyPem);
        return new CertificateAuthority(X509Certificate2.CreateFromPem(certificatePem), key);
    }

    /// <summary>A serving certificate for the given DNS names and addresses.</summary>
    public X509Certificate2 IssueServing(string commonName, IEnumerable<string> dnsNames, IEnumerable<IPAddress> addresses, DateTimeOffset now)
    {
        var sans = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            sans.AddDnsName(name);
        }
        foreach (var address in addresses.Distinct())
        {
            sans.AddIpAddress(address);
        }
        return Issue($"CN={commonName}", [ServerAuth], now, sans.Build());
    }

    /// <summary>A silo's certificate for silo-to-silo connections, which it both accepts and opens:
    /// valid for server and client authentication, named <see cref="SiloCommonName"/> in group
    /// <see cref="SiloGroup"/> so no client or node certificate can pass for a silo.</summary>
    public X509Certificate2 IssueSilo(DateTimeOffset now) =>
        Issue(new X500DistinguishedNameBuilder().AddOrganizationNameChain(SiloGroup).AddCommonNameChain(SiloCommonName), [ServerAuth, ClientAuth], now, extension: null);

    public const string SiloCommonName = NodeProtocol.ControlPlaneCallProof.SiloCommonName;

    public const string SiloGroup = "system:silos";

    /// <summary>Whether <paramref name="certificate"/> is a silo certificate of this CA, valid now.</summary>
    public bool IsSiloCertificate(X509Certificate2 certificate, DateTimeOffset now) =>
        Chains(certificate, now, ServerAuth) && Chains(certificate, now, ClientAuth)
        && certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false) == SiloCommonName;

    /// <summary>A client certificate: Kubernetes reads the user from CN and the groups from O.</summary>
    public X509Certificate2 IssueClient(string user, IEnumerable<string> groups, DateTimeOffset now, TimeSpan? lifetime = null)
    {
        var subject = new X500DistinguishedNameBuilder();
        foreach (var group in groups)
        {
            subject.AddOrganizationName(group);
        }
        subject.AddCommonName(user);
        return Issue(subject.Build().Name, [ClientAuth], now, extension: null, lifetime);
    }

    /// <summary>A client certificate for a key the requester holds (the public key of its CSR): the
    /// private key never leaves the requester, as with Kubernetes' CertificateSigningRequests. The
    /// subject is the CA's choice, not the CSR's.</summary>
    public X509Certificate2 IssueClient(PublicKey publicKey, string user, IEnumerable<string> groups, DateTimeOffset now, TimeSpan lifetime)
    {
        var subject = new X500DistinguishedNameBuilder();
        foreach (var group in groups)
        {
            subject.AddOrganizationName(group);
        }
        subject.AddCommonName(user);
        return Sign(new CertificateRequest(subject.Build(), publicKey, HashAlgorithmName.SHA256), [ClientAuth], now, extension: null, lifetime);
    }

    private X509Certificate2 Issue(string subject, Oid[] usages, DateTimeOffset now, X509Extension? extension, TimeSpan? lifetime = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var issued = Sign(new CertificateRequest(subject, key, HashAlgorithmName.SHA256), usages, now, extension, lifetime);
        // Kestrel and SslStream want the key inside the certificate, in a form they can export.
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable);
    }

    private X509Certificate2 Sign(CertificateRequest request, Oid[] usages, DateTimeOffset now, X509Extension? extension, TimeSpan? lifetime)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new OidCollection().AddAll(usages), critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (extension is not null)
        {
            request.CertificateExtensions.Add(extension);
        }
        var notAfter = now + (lifetime ?? LeafLifetime);
        if (notAfter > Certificate.NotAfter)
        {
            notAfter = Certificate.NotAfter;
        }
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        var generator = X509SignatureGenerator.CreateForECDsa(_key);
        return request.Create(Certificate.SubjectName, generator, now.AddMinutes(-5), notAfter, serial);
    }

    /// <summary>Whether <paramref name="certificate"/> was issued by this CA for client
    /// authentication and is valid now.</summary>
    public bool IsClientCertificate(X509Certificate2 certificate, DateTimeOffset now) => Chains(certificate, now, ClientAuth);

    private bool Chains(X509Certificate2 certificate, DateTimeOffset now, Oid usage) => ChainsTo(Certificate, certificate, now, usage);

    /// <summary>Whether <paramref name="certificate"/> chains to <paramref name="root"/> alone (not
    /// to the machine's trust store), at <paramref name="at"/> (default now) and, if given, for
    /// <paramref name="usage"/>: how every party of the cluster checks a peer against its CA.</summary>
    public static bool ChainsTo(X509Certificate2 root, X509Certificate2 certificate, DateTimeOffset? at = null, Oid? usage = null) =>
        NodeProtocol.ClusterCertificates.ChainsTo(root, certificate, at, usage);

    public void Dispose()
    {
        _key.Dispose();
        Certificate.Dispose();
    }
}

internal static class NameBuilding
{
    public static X500DistinguishedNameBuilder AddOrganizationNameChain(this X500DistinguishedNameBuilder builder, string name)
    {
        builder.AddOrganizationName(name);
        return builder;
    }

    public static string AddCommonNameChain(this X500DistinguishedNameBuilder builder, string name)
    {
        builder.AddCommonName(name);
        return builder.Build().Name;
    }

    public static OidCollection AddAll(this OidCollection collection, IEnumerable<Oid> oids)
    {
        foreach (var oid in oids)
        {
            collection.Add(oid);
        }
        return collection;
    }
}
