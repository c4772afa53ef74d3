using System.Security.Cryptography;

namespace Orchestrator.Grains.Security;

/// <summary>
/// The cluster's secrets created at first start and kept with its state (the data directory in
/// the embedded profile, PostgreSQL in the cluster profile, so every silo has the same ones).
/// </summary>
public interface IClusterCredentials
{
    /// <summary>The cluster CA certificate in PEM: what clients trust, and what pods get as ca.crt.</summary>
    string CaCertificatePem { get; }

    /// <summary>Signs and verifies ServiceAccount tokens (ES256).</summary>
    ECDsa ServiceAccountKey { get; }

    /// <summary>The "iss" of ServiceAccount tokens, and their default audience.</summary>
    string Issuer { get; }
}

/// <summary>Turns a bearer token into a user, or null when the token is not one of its kind (the
/// next authenticator is tried); throws <see cref="UnauthorizedAccessException"/> for a token of
/// its kind that is invalid (expired, bad signature, its pod gone).</summary>
public interface ITokenAuthenticator
{
    ValueTask<UserInfo?> AuthenticateAsync(string token, CancellationToken cancellationToken);
}
