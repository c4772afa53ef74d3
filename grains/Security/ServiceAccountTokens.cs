using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Orchestrator.Model;

namespace Orchestrator.Grains.Security;

/// <summary>An object a token is bound to (a pod, or the node of that pod): its name and uid.</summary>
public sealed record BoundObject(string Name, string Uid);

/// <summary>A token and when it stops being accepted.</summary>
public sealed record IssuedToken(string Token, DateTimeOffset ExpirationTimestamp);

/// <summary>
/// Issues ServiceAccount tokens as Kubernetes' TokenRequest does: ES256 JWTs signed with the
/// cluster's ServiceAccount key, with iss, sub = system:serviceaccount:ns:name, aud, iat, nbf,
/// exp, jti and the private "kubernetes.io" claim naming the account and the objects the token
/// is bound to (so that it dies with its pod). The key id is what Kubernetes uses: the unpadded
/// base64url SHA-256 of the public key's DER form, so verifiers can tell keys apart after a
/// rotation.
/// </summary>
public sealed class ServiceAccountTokens(IClusterCredentials credentials, TimeProvider time)
{
    /// <summary>The private claim holding namespace, serviceaccount, pod and node.</summary>
    public const string KubernetesClaim = "kubernetes.io";

    /// <summary>TokenRequest's default expirationSeconds, and the lifetime of projected tokens.</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(1);

    /// <summary>TokenRequest refuses shorter ones ("may not specify a duration less than 10 minutes").</summary>
    public static readonly TimeSpan MinimumLifetime = TimeSpan.FromMinutes(10);

    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public string Issuer => credentials.Issuer;

    internal SecurityKey SigningKey => new ECDsaSecurityKey(credentials.ServiceAccountKey) { KeyId = KeyId(credentials.ServiceAccountKey) };

    public IssuedToken Issue(ServiceAccount sa, IReadOnlyList<string>? audiences, TimeSpan lifetime, BoundObject? pod = null, BoundObject? node = null)
    {
        var ns = sa.Metadata.Namespace ?? throw new ArgumentException("a ServiceAccount has a namespace", nameof(sa));
        var name = sa.Metadata.Name ?? throw new ArgumentException("a ServiceAccount has a name", nameof(sa));
        // Whole seconds, as JWT times are: the expirationTimestamp answered is then exactly exp.
        var now = DateTimeOffset.FromUnixTimeSeconds(time.GetUtcNow().ToUnixTimeSeconds());
        var expires = now + lifetime;
        var k8s = new Dictionary<string, object>
        {
            ["namespace"] = ns,
            ["serviceaccount"] = new Dictionary<string, object> { ["name"] = name, ["uid"] = sa.Metadata.Uid ?? "" },
        };
        if (pod is not null)
        {
            k8s["pod"] = new Dictionary<string, object> { ["name"] = pod.Name, ["uid"] = pod.Uid };
        }
        if (node is not null)
        {
            k8s["node"] = new Dictionary<string, object> { ["name"] = node.Name, ["uid"] = node.Uid };
        }
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = credentials.Issuer,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            SigningCredentials = new SigningCredentials(SigningKey, SecurityAlgorithms.EcdsaSha256),
            Claims = new Dictionary<string, object>
            {
                [JwtRegisteredClaimNames.Sub] = Grains.Security.SystemUsers.ServiceAccount(ns, name),
                // Always a list, as Kubernetes writes it, even with one audience.
                [JwtRegisteredClaimNames.Aud] = (audiences is { Count: > 0 } ? audiences : [credentials.Issuer]).ToArray(),
                [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString(),
                [KubernetesClaim] = k8s,
            },
        };
        return new IssuedToken(_handler.CreateToken(descriptor), expires);
    }

    private static string KeyId(ECDsa key) => Base64UrlEncoder.Encode(SHA256.HashData(key.ExportSubjectPublicKeyInfo()));
}
