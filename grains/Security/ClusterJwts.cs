using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Orchestrator.Grains.Security;

/// <summary>
/// What the authenticators of tokens the cluster signs itself (ServiceAccount and node tokens,
/// ES256 with the cluster's key) share: telling their own tokens from anybody else's by the
/// issuer, and checking signature, issuer, audience and lifetime on the injected clock with a
/// minute of leeway.
/// </summary>
internal static class ClusterJwts
{
    public static readonly TimeSpan Leeway = TimeSpan.FromMinutes(1);

    /// <summary>The token as a JWT when it is one with <paramref name="issuer"/>; null when it is
    /// not a JWT or another issuer's (the next authenticator's business).</summary>
    public static JsonWebToken? ReadOwn(JsonWebTokenHandler handler, string token, string issuer)
    {
        if (!handler.CanReadToken(token))
        {
            return null;
        }
        try
        {
            var jwt = handler.ReadJsonWebToken(token);
            return jwt.TryGetPayloadValue<string>(JwtRegisteredClaimNames.Iss, out var iss) && iss == issuer ? jwt : null;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    public static Task<TokenValidationResult> ValidateAsync(JsonWebTokenHandler handler, JsonWebToken jwt, string issuer, string audience, ECDsa key, TimeProvider time) =>
        handler.ValidateTokenAsync(jwt, new TokenValidationParameters
        {
            ValidIssuer = issuer,
            ValidAudience = audience,
            IssuerSigningKey = new ECDsaSecurityKey(key),
            ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
            RequireExpirationTime = true,
            // On the injected clock (the library's own reads the system clock).
            LifetimeValidator = (notBefore, expires, _, _) =>
                expires is { } exp && time.GetUtcNow().UtcDateTime <= exp.Add(Leeway)
                && (notBefore is not { } nbf || nbf.Subtract(Leeway) <= time.GetUtcNow().UtcDateTime),
            // The key is the one we hold; there is no certificate to check it against.
            ValidateIssuerSigningKey = false,
            TryAllIssuerSigningKeys = true,
        });
}
