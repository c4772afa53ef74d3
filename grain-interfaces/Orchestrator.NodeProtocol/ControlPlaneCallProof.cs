using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Orchestrator.NodeProtocol;

/// <summary>
/// How a call to a node agent's endpoint proves that the control plane made it (Kubernetes: the
/// kubelet API accepts only the apiserver's client certificate). A grain call reaches the agent
/// over the connection the agent opened to a gateway, so the agent cannot see who sent it: a
/// silo adds to every call to a client, in the RequestContext under <see cref="Key"/>, a proof
/// signed with its silo certificate (issued by the cluster CA): the certificate, an expiry and a
/// signature over the target and the expiry. It names the target, so an agent that receives one
/// cannot replay it at another agent, and it is short-lived.
/// </summary>
/// <remarks>Format: base64(certificate DER) "." expiry (Unix seconds) "." base64(ECDSA P-256
/// SHA-256 signature over <see cref="Payload"/>).</remarks>
public static class ControlPlaneCallProof
{
    /// <summary>The RequestContext key of the proof.</summary>
    public const string Key = "orchestrator.control-plane-proof";

    /// <summary>The common name of silo certificates (the CA issues them only to silos).</summary>
    public const string SiloCommonName = "system:silo";

    /// <summary>How long a proof is accepted after it is made. Silos reuse one per target for half
    /// of this; a minute of clock skew between machines is tolerated on top.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(2);

    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);

    /// <summary>A proof for a call to <paramref name="target"/> (the target's GrainId as text),
    /// signed with the private key of <paramref name="siloCertificate"/>.</summary>
    public static string Create(X509Certificate2 siloCertificate, string target, DateTimeOffset now)
    {
        using var key = siloCertificate.GetECDsaPrivateKey()
            ?? throw new ArgumentException("the silo certificate has no ECDSA private key", nameof(siloCertificate));
        var expires = (now + Lifetime).ToUnixTimeSeconds();
        var signature = key.SignData(Payload(target, expires), HashAlgorithmName.SHA256);
        return string.Create(CultureInfo.InvariantCulture, $"{Convert.ToBase64String(siloCertificate.RawData)}.{expires}.{Convert.ToBase64String(signature)}");
    }

    /// <summary>What is signed: a fixed label (a signature made for anything else never passes as
    /// a proof), the target and the expiry.</summary>
    internal static byte[] Payload(string target, long expires) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"orchestrator/control-plane-call/v1\n{target}\n{expires}"));
}

/// <summary>
/// The node agent's side of <see cref="ControlPlaneCallProof"/>: accepts a proof only if its
/// certificate chains to the cluster CA, is a silo certificate valid now, signed this target and
/// has not expired.
/// </summary>
public sealed class ControlPlaneCallVerifier(Func<X509Certificate2> clusterCa, TimeProvider time)
{
    public ControlPlaneCallVerifier(X509Certificate2 clusterCa, TimeProvider time)
        : this(() => clusterCa, time)
    {
    }

    /// <summary>Whether <paramref name="proof"/> (the RequestContext value, of any type) proves a
    /// call to <paramref name="target"/> came from a silo of the cluster.</summary>
    public bool Verify(object? proof, string target)
    {
        if (proof is not string text || text.Split('.') is not [var certificateText, var expiresText, var signatureText]
            || !long.TryParse(expiresText, NumberStyles.None, CultureInfo.InvariantCulture, out var expires))
        {
            return false;
        }
        var now = time.GetUtcNow();
        if (now - ControlPlaneCallProof.ClockSkew > DateTimeOffset.FromUnixTimeSeconds(expires)
            || DateTimeOffset.FromUnixTimeSeconds(expires) > now + ControlPlaneCallProof.Lifetime + ControlPlaneCallProof.ClockSkew)
        {
            return false;
        }
        try
        {
            using var certificate = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(certificateText));
            if (certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false) != ControlPlaneCallProof.SiloCommonName
                || !ClusterCertificates.ChainsTo(clusterCa(), certificate, now, ClusterCertificates.ClientAuth))
            {
                return false;
            }
            using var key = certificate.GetECDsaPublicKey();
            return key is not null && key.VerifyData(ControlPlaneCallProof.Payload(target, expires), Convert.FromBase64String(signatureText), HashAlgorithmName.SHA256);
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            return false;
        }
    }
}

/// <summary>The one chain check every party of the cluster makes against its CA.</summary>
public static class ClusterCertificates
{
    public static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");

    public static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    /// <summary>Whether <paramref name="certificate"/> chains to <paramref name="root"/> alone (not
    /// to the machine's trust store), at <paramref name="at"/> (default now) and, if given, for
    /// <paramref name="usage"/>.</summary>
    public static bool ChainsTo(X509Certificate2 root, X509Certificate2 certificate, DateTimeOffset? at = null, Oid? usage = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (at is { } time)
        {
            chain.ChainPolicy.VerificationTime = time.UtcDateTime;
        }
        if (usage is not null)
        {
            chain.ChainPolicy.ApplicationPolicy.Add(usage);
        }
        return chain.Build(certificate) && chain.ChainElements[^1].Certificate.RawDataMemory.Span.SequenceEqual(root.RawDataMemory.Span);
    }
}
