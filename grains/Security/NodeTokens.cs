using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Orchestrator.Grains.Security;

/// <summary>
/// A node agent's identity on each call it makes: an ES256 JWT signed with the cluster's
/// ServiceAccount key, issued with the node's client certificate when the agent joins (and
/// again when it renews), whose subject is "system:node:&lt;name&gt;" in the group
/// "system:nodes", as Kubernetes names kubelets. Its issuer is not the ServiceAccount one, so
/// the two authenticators never read each other's tokens.
/// </summary>
public sealed class NodeTokens(IClusterCredentials credentials, TimeProvider time)
{
    /// <summary>The "iss" and "aud" of node tokens.</summary>
    public const string Issuer = "orchestrator/nodes";

    /// <summary>How long a node's certificate and token last (kubelet client certificates: a year;
    /// ours are shorter and renewed by the agent when two thirds have passed).</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromDays(30);

    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public IssuedToken Issue(string nodeName, TimeSpan lifetime)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeName);
        var now = DateTimeOffset.FromUnixTimeSeconds(time.GetUtcNow().ToUnixTimeSeconds());
        var expires = now + lifetime;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            SigningCredentials = new SigningCredentials(new ECDsaSecurityKey(credentials.ServiceAccountKey), SecurityAlgorithms.EcdsaSha256),
            Claims = new Dictionary<string, object>
            {
                [JwtRegisteredClaimNames.Sub] = SystemUsers.Node(nodeName),
                [JwtRegisteredClaimNames.Aud] = Issuer,
                [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString(),
            },
        };
        return new IssuedToken(_handler.CreateToken(descriptor), expires);
    }
}

/// <summary>Accepts <see cref="NodeTokens"/>: signature, issuer, audience, lifetime (a minute of
/// leeway) and a subject naming a node. Another issuer's token is not its kind (null).</summary>
public sealed class NodeTokenAuthenticator(IClusterCredentials credentials, TimeProvider time) : ITokenAuthenticator
{
    private readonly JsonWebTokenHandler _handler = new();

    public async ValueTask<UserInfo?> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        if (ClusterJwts.ReadOwn(_handler, token, NodeTokens.Issuer) is not { } jwt)
        {
            return null;
        }
        var result = await ClusterJwts.ValidateAsync(_handler, jwt, NodeTokens.Issuer, NodeTokens.Issuer, credentials.ServiceAccountKey, time);
        if (!result.IsValid)
        {
            throw new UnauthorizedAccessException(result.Exception is SecurityTokenInvalidLifetimeException
                ? "node token has expired"
                : "invalid node token: " + (result.Exception?.Message ?? "unknown reason"));
        }
        var subject = jwt.Subject;
        if (subject is null || !subject.StartsWith(SystemUsers.NodePrefix, StringComparison.Ordinal) || subject.Length == SystemUsers.NodePrefix.Length)
        {
            throw new UnauthorizedAccessException("node token does not name a node");
        }
        return new UserInfo { Name = subject, Groups = [SystemGroups.Nodes, SystemGroups.Authenticated] };
    }
}
