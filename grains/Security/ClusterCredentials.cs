using System.Security.Cryptography;

namespace Orchestrator.Grains.Security;

/// <summary>
/// The cluster's credentials: its CA, the key that signs ServiceAccount tokens, the admin's
/// static token and the node bootstrap secret agents join with. Made once, at the first start of the first silo, and kept by an
/// <see cref="ICredentialStore"/> with the cluster's state, so every silo and every restart uses
/// the same ones (clients keep trusting the CA, tokens stay valid).
/// </summary>
public sealed class ClusterCredentials : IClusterCredentials
{
    public const string DefaultIssuer = "https://kubernetes.default.svc.cluster.local";

    private ClusterCredentials(CertificateAuthority ca, ECDsa serviceAccountKey, string adminToken, string nodeBootstrapSecret)
    {
        Ca = ca;
        ServiceAccountKey = serviceAccountKey;
        AdminToken = adminToken;
        NodeBootstrapSecret = nodeBootstrapSecret;
    }

    public CertificateAuthority Ca { get; }

    public ECDsa ServiceAccountKey { get; }

    /// <summary>The bearer token of the admin (user system:admin, group system:masters) written
    /// into the kubeconfig at first start.</summary>
    public string AdminToken { get; }

    /// <summary>The secret of the node bootstrap token (k3s' "server token"): whoever holds it may
    /// ask for a node certificate, and nothing else (see the silo's NodeCredentialsApi).</summary>
    public string NodeBootstrapSecret { get; }

    public string CaCertificatePem => Ca.CertificatePem;

    public string Issuer => DefaultIssuer;

    /// <summary>New credentials, as a first start makes them.</summary>
    public static StoredCredentials Generate(DateTimeOffset now)
    {
        using var ca = CertificateAuthority.Create($"orchestrator-ca@{now.ToUnixTimeSeconds()}", now);
        using var sa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new StoredCredentials(ca.CertificatePem, ca.KeyPem, sa.ExportPkcs8PrivateKeyPem(), NewSecret(), NewSecret());
    }

    /// <summary>256 random bits, base64url: a token that fits a header and a command line.</summary>
    public static string NewSecret() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static ClusterCredentials From(StoredCredentials stored)
    {
        var sa = ECDsa.Create();
        sa.ImportFromPem(stored.ServiceAccountKeyPem);
        return new ClusterCredentials(CertificateAuthority.FromPem(stored.CaCertificatePem, stored.CaKeyPem), sa, stored.AdminToken,
            stored.NodeBootstrapSecret ?? throw new InvalidOperationException("the stored cluster credentials have no node bootstrap secret"));
    }

    /// <summary>Loads the cluster's credentials from <paramref name="store"/>, making them if this is
    /// the cluster's first start. Concurrent first starts agree: the store keeps the first.</summary>
    public static async Task<ClusterCredentials> LoadOrCreateAsync(ICredentialStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        var stored = await store.LoadAsync(cancellationToken) ?? await store.AddAsync(Generate(time.GetUtcNow()), cancellationToken);
        if (stored.NodeBootstrapSecret is null)
        {
            // Credentials stored before node bootstrap existed: add the secret once, first writer wins.
            stored = await store.AddNodeBootstrapSecretAsync(NewSecret(), cancellationToken);
        }
        return From(stored);
    }
}

/// <summary>The credentials as stored: PEM and text. <see cref="NodeBootstrapSecret"/> is null in
/// credentials stored before agents joined with a bootstrap token.</summary>
public sealed record StoredCredentials(string CaCertificatePem, string CaKeyPem, string ServiceAccountKeyPem, string AdminToken, string? NodeBootstrapSecret = null);

/// <summary>Where a profile keeps the cluster's credentials.</summary>
public interface ICredentialStore
{
    /// <summary>The stored credentials, or null before the first start.</summary>
    Task<StoredCredentials?> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Stores <paramref name="credentials"/> unless some are stored already; returns what
    /// is stored afterwards (another silo's, if it was first).</summary>
    Task<StoredCredentials> AddAsync(StoredCredentials credentials, CancellationToken cancellationToken);

    /// <summary>Adds <paramref name="secret"/> as the node bootstrap secret of stored credentials that
    /// have none; returns what is stored afterwards (another silo's secret, if it was first).</summary>
    Task<StoredCredentials> AddNodeBootstrapSecretAsync(string secret, CancellationToken cancellationToken);
}
