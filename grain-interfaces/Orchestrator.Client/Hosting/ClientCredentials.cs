using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Orchestrator.Client.Hosting;

/// <summary>
/// Who a grain client is: a client certificate of the cluster CA (with its private key), which
/// opens the gateway's mutual TLS, and the bearer token every grain call carries, by which the
/// control plane authenticates and authorizes each call. The CA certificate is what the client
/// trusts the gateway by. Certificate and token are read through functions on each new connection
/// and each call, so a holder that renews them (the node agent) switches without a restart.
/// </summary>
public sealed class ClientCredentials
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");

    private readonly Func<X509Certificate2> _ca;
    private readonly Func<X509Certificate2> _certificate;
    private readonly Func<string?> _token;

    /// <param name="caCertificate">The cluster CA: the gateway's certificate must chain to it alone.</param>
    /// <param name="certificate">The current client certificate, with its private key.</param>
    /// <param name="token">The current bearer token (null: calls carry none).</param>
    public ClientCredentials(Func<X509Certificate2> caCertificate, Func<X509Certificate2> certificate, Func<string?> token)
    {
        ArgumentNullException.ThrowIfNull(caCertificate);
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(token);
        _ca = caCertificate;
        _certificate = certificate;
        _token = token;
    }

    /// <summary>Credentials that never change.</summary>
    public ClientCredentials(X509Certificate2 caCertificate, X509Certificate2 certificate, string? token)
        : this(() => caCertificate, () => certificate, () => token)
    {
        if (!certificate.HasPrivateKey)
        {
            throw new ArgumentException("the client certificate needs its private key", nameof(certificate));
        }
    }

    public X509Certificate2 CaCertificate => _ca();

    /// <summary>The client certificate new connections present.</summary>
    public X509Certificate2 Certificate => _certificate();

    /// <summary>The bearer token calls carry now.</summary>
    public string? Token => _token();

    /// <summary>
    /// The CA, client certificate and key, and token of the current context's user in a kubeconfig
    /// (the admin kubeconfig a silo writes, or any with a client certificate of the cluster CA):
    /// <c>certificate-authority-data</c> (or <c>certificate-authority</c>), <c>client-certificate-data</c>
    /// and <c>client-key-data</c> (or the file forms), and <c>token</c> (or <c>tokenFile</c>).
    /// </summary>
    /// <exception cref="InvalidDataException">The file lacks one of them; the message names it.</exception>
    public static ClientCredentials FromKubeconfig(string path)
    {
        var config = KubeconfigFile.Load(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string Pem(IReadOnlyDictionary<string, object?> section, string field, string what)
        {
            if (section.TryGetValue(field + "-data", out var data) && data is string { Length: > 0 } base64)
            {
                return Encoding.UTF8.GetString(Convert.FromBase64String(base64));
            }
            if (section.TryGetValue(field, out var file) && file is string { Length: > 0 } name)
            {
                return File.ReadAllText(Path.Combine(directory, name));
            }
            throw new InvalidDataException($"{path}: the {what} has no {field}-data (or {field}); a kubeconfig for a grain client needs the cluster CA, a client certificate and its key, such as the silo's admin.kubeconfig");
        }
        var ca = X509Certificate2.CreateFromPem(Pem(config.Cluster, "certificate-authority", $"cluster \"{config.ClusterName}\""));
        using var pemCertificate = X509Certificate2.CreateFromPem(Pem(config.User, "client-certificate", $"user \"{config.UserName}\""), Pem(config.User, "client-key", $"user \"{config.UserName}\""));
        // SslStream wants a key it can use for the handshake on every platform: a PKCS#12 round trip gives it one.
        var certificate = X509CertificateLoader.LoadPkcs12(pemCertificate.Export(X509ContentType.Pkcs12), null);
        string? token = config.User.TryGetValue("token", out var t) && t is string { Length: > 0 } text ? text
            : config.User.TryGetValue("tokenFile", out var f) && f is string { Length: > 0 } tokenFile ? File.ReadAllText(Path.Combine(directory, tokenFile)).Trim()
            : null;
        return new ClientCredentials(ca, certificate, token);
    }

    /// <summary>Whether <paramref name="certificate"/> (a gateway's) chains to <see cref="CaCertificate"/>
    /// alone, not to the machine's trust store, and is valid now for serving.</summary>
    public bool Trusts(X509Certificate2? certificate) => IsServedBy(CaCertificate, certificate);

    /// <summary>Whether <paramref name="certificate"/> is a serving certificate that chains to
    /// <paramref name="ca"/> alone and is valid now.</summary>
    public static bool IsServedBy(X509Certificate2 ca, X509Certificate2? certificate)
    {
        if (certificate is null)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ServerAuth);
        return chain.Build(certificate) && chain.ChainElements[^1].Certificate.RawDataMemory.Span.SequenceEqual(ca.RawDataMemory.Span);
    }
}
