using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orchestrator.NodeAgent.Join;

/// <summary>
/// What a node got when it joined: the cluster CA, its client certificate and private key, and its
/// node token, with when they were issued and expire. Kept in one file of the agent's data
/// directory (mode 0600, in a 0700 directory) so that a restarted agent reuses them and needs the
/// bootstrap token only to join for the first time.
/// </summary>
public sealed record NodeCredentialSet
{
    [JsonPropertyName("nodeName")] public required string NodeName { get; init; }
    [JsonPropertyName("ca")] public required string CaPem { get; init; }
    [JsonPropertyName("certificate")] public required string CertificatePem { get; init; }
    [JsonPropertyName("key")] public required string KeyPem { get; init; }
    [JsonPropertyName("token")] public required string Token { get; init; }
    [JsonPropertyName("issuedAt")] public required DateTimeOffset IssuedAt { get; init; }
    [JsonPropertyName("expirationTimestamp")] public required DateTimeOffset ExpirationTimestamp { get; init; }

    /// <summary>When to renew: two thirds into the lifetime, as the kubelet's certificate manager
    /// renews somewhere between 70 and 90%; early enough that a control plane down for a while
    /// leaves the agent time to retry.</summary>
    public DateTimeOffset RenewAt => IssuedAt + (ExpirationTimestamp - IssuedAt) * 2 / 3;

    /// <summary>The certificate with its key, loaded as SslStream wants it.</summary>
    public X509Certificate2 LoadCertificate()
    {
        using var pem = X509Certificate2.CreateFromPem(CertificatePem, KeyPem);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }
}

/// <summary>Reads and writes <see cref="NodeCredentialSet"/> at &lt;data&gt;/credentials/node.json.</summary>
public sealed class NodeCredentialFile(string dataDirectory)
{
    public string Path { get; } = System.IO.Path.Combine(dataDirectory, "credentials", "node.json");

    /// <summary>The stored set, or null when there is none or it is unreadable (the agent joins again).</summary>
    public NodeCredentialSet? Load()
    {
        try
        {
            return File.Exists(Path) ? JsonSerializer.Deserialize<NodeCredentialSet>(File.ReadAllText(Path)) : null;
        }
        catch (Exception ex) when (ex is JsonException or IOException or CryptographicException)
        {
            return null;
        }
    }

    public void Save(NodeCredentialSet set)
    {
        var directory = System.IO.Path.GetDirectoryName(Path)!;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var temporary = Path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var file = new FileStream(temporary, options))
        {
            JsonSerializer.Serialize(file, set);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, Path, overwrite: true);
    }
}
