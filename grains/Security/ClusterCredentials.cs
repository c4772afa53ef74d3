using System.Security.Cryptography;

namespace Orchestrator.Grains.Security;

/// <summary>
/// The cluster's credentials: its CA, the key that signs ServiceAccount tokens and the admin's
/// static token. Made once, at the first start of the first silo, and kept by an
/// <see cref="ICredentialStore"/> with the cluster's state, so every silo and every restart uses
/// the same ones (clients keep trusting the CA, tokens stay valid).
/// </summary>
public sealed class ClusterCredentials : IClusterCredentials
{
    public const string DefaultIssuer = "https://kubernetes.default.svc.cluster.local";

    private ClusterCredentials(CertificateAuthority ca, ECDsa serviceAccountKey, string adminToken)
    {
        Ca = ca;
        ServiceAccountKey = serviceAccountKey;
        AdminToken = adminToken;
    }

    public CertificateAuthority Ca { get; }

    public ECDsa ServiceAccountKey { get; }

    /// <summary>The bearer token of the admin (user system:admin, group system:masters) written
    /// into the kubeconfig at first start.</summary>
    public string AdminToken { get; }

    public string CaCertificatePem => Ca.CertificatePem;

    public string Issuer => DefaultIssuer;

    /// <summary>New credentials, as a first start makes them.</summary>
    public static StoredCredentials Generate(DateTimeOffset now)
    {
        using var ca = CertificateAuthority.Create($"orchestrator-ca@{now.ToUnixTimeSeconds()}", now);
        using var sa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new StoredCredentials(ca.CertificatePem, ca.KeyPem, sa.ExportPkcs8PrivateKeyPem(),
            Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_'));
    }

    public static ClusterCredentials From(StoredCredentials stored)
    {
        var sa = ECDsa.Create();
        sa.ImportFromPem(stored.ServiceAccountKeyPem);
        return new ClusterCredentials(CertificateAuthority.FromPem(stored.CaCertificatePem, stored.CaKeyPem), sa, stored.AdminToken);
    }

    /// <summary>Loads the cluster's credentials from <paramref name="store"/>, making them if this is
    /// the cluster's first start. Concurrent first starts agree: the store keeps the first.</summary>
    public static async Task<ClusterCredentials> LoadOrCreateAsync(ICredentialStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        var stored = await store.LoadAsync(cancellationToken) ?? await store.AddAsync(Generate(time.GetUtcNow()), cancellationToken);
        return From(stored);
    }
}

/// <summary>The credentials as stored: PEM and text.</summary>
public sealed record StoredCredentials(string CaCertificatePem, string CaKeyPem, string ServiceAccountKeyPem, string AdminToken);

/// <summary>Where a profile keeps the cluster's credentials.</summary>
public interface ICredentialStore
{
    /// <summary>The stored credentials, or null before the first start.</summary>
    Task<StoredCredentials?> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Stores <paramref name="credentials"/> unless some are stored already; returns what
    /// is stored afterwards (another silo's, if it was first).</summary>
    Task<StoredCredentials> AddAsync(StoredCredentials credentials, CancellationToken cancellationToken);
}
