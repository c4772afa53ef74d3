using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;

namespace Orchestrator.NodeProtocol;

/// <summary>
/// The node bootstrap token in k3s' format, <c>K10&lt;sha256 hex of the CA PEM&gt;::node:&lt;secret&gt;</c>:
/// the secret lets an agent ask for its node credentials once, and the hash lets it pin the CA it
/// fetches from the anonymous <see cref="CaCertsPath"/> before it trusts anything the server says.
/// The control plane writes it to &lt;data&gt;/node-token; agents take it as Agent:Token.
/// </summary>
public sealed record NodeJoinToken(string? CaHash, string Credential)
{
    /// <summary>The user name part of the credential, as k3s names its node join user.</summary>
    public const string User = "node";

    /// <summary>Where the control plane serves its CA certificate to anyone (k3s: /cacerts).</summary>
    public const string CaCertsPath = "/cacerts";

    /// <summary>Where an agent trades its bootstrap token (or, to renew, its node token) and a CSR for
    /// a node certificate and token.</summary>
    public const string CredentialsPath = "/v1-orchestrator/node-credentials";

    private const string Prefix = "K10";

    public static string Format(string caPem, string secret) => $"{Prefix}{HashOf(caPem)}::{User}:{secret}";

    /// <summary>The hex SHA-256 of the CA PEM exactly as served (k3s hashes the /cacerts bytes).</summary>
    public static string HashOf(string caPem) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(caPem)));

    /// <summary>The full K10 form, or only "node:&lt;secret&gt;" (then the CA is not pinned).</summary>
    public static NodeJoinToken Parse(string token)
    {
        token = token.Trim();
        if (token.StartsWith(Prefix, StringComparison.Ordinal) && token.IndexOf("::", StringComparison.Ordinal) is var split and > 0)
        {
            return new NodeJoinToken(token[Prefix.Length..split], token[(split + 2)..]);
        }
        return new NodeJoinToken(null, token);
    }

    /// <summary>Whether <paramref name="caPem"/> is the CA this token was made for (true when it pins none).</summary>
    public bool Pins(string caPem) => CaHash is null || CryptographicOperations.FixedTimeEquals(
        Encoding.ASCII.GetBytes(CaHash.ToLowerInvariant()), Encoding.ASCII.GetBytes(HashOf(caPem)));
}

/// <summary>The body of POST <see cref="NodeJoinToken.CredentialsPath"/>.</summary>
public sealed record NodeCredentialRequest
{
    [JsonPropertyName("nodeName")] public string? NodeName { get; init; }

    /// <summary>A PKCS#10 certificate signing request in PEM, of the key the agent made for itself
    /// (the private key never leaves the node).</summary>
    [JsonPropertyName("csr")] public string? Csr { get; init; }
}

/// <summary>The answer: the node's client certificate (CN=system:node:&lt;name&gt;, O=system:nodes), the
/// cluster CA, and the node token its grain calls carry; both expire at <see cref="ExpirationTimestamp"/>.</summary>
public sealed record NodeCredentialResponse
{
    [JsonPropertyName("certificate")] public required string Certificate { get; init; }
    [JsonPropertyName("ca")] public required string Ca { get; init; }
    [JsonPropertyName("token")] public required string Token { get; init; }
    [JsonPropertyName("expirationTimestamp")] public required DateTimeOffset ExpirationTimestamp { get; init; }
}
