using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Orchestrator.Grains.Security;

/// <summary>
/// Turns a bearer token into a user, as the HTTP API does: the admin's static token (compared in
/// constant time), then each registered <see cref="ITokenAuthenticator"/> (ServiceAccount and
/// node tokens). Grain calls authenticate on every call, so <see cref="AuthenticateCachedAsync"/>
/// keeps a success for <see cref="CacheTtl"/> (Kubernetes' apiserver caches token
/// authentication for 10 s too): a deleted pod's token may keep working for that long.
/// </summary>
public sealed class BearerTokenAuthentication(IEnumerable<ITokenAuthenticator> authenticators, TimeProvider time, ClusterCredentials? credentials = null)
{
    public static readonly TimeSpan CacheTtl = TimeSpan.FromSeconds(10);

    /// <summary>Bounds the cache: tokens of many clients come and go; past this size it starts over.</summary>
    private const int MaxCached = 10_000;

    private readonly ITokenAuthenticator[] _authenticators = authenticators.ToArray();
    private readonly byte[]? _adminToken = credentials is null ? null : Encoding.UTF8.GetBytes(credentials.AdminToken);
    private readonly ConcurrentDictionary<string, (UserInfo User, DateTimeOffset Expires)> _cache = new(StringComparer.Ordinal);

    public static UserInfo Admin { get; } = new() { Name = SystemUsers.Admin, Groups = [SystemGroups.Masters, SystemGroups.Authenticated] };

    /// <summary>The token's user, or null when no authenticator accepts it (401).</summary>
    public async ValueTask<UserInfo?> AuthenticateAsync(string token, CancellationToken cancellationToken = default)
    {
        if (_adminToken is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), _adminToken))
        {
            return Admin;
        }
        foreach (var authenticator in _authenticators)
        {
            try
            {
                if (await authenticator.AuthenticateAsync(token, cancellationToken) is { } user)
                {
                    return user;
                }
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }
        return null;
    }

    /// <summary>As <see cref="AuthenticateAsync"/>, answering from the cache when it can.</summary>
    public async ValueTask<UserInfo?> AuthenticateCachedAsync(string token, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(token, out var cached) && now < cached.Expires)
        {
            return cached.User;
        }
        var user = await AuthenticateAsync(token, cancellationToken);
        if (user is null)
        {
            _cache.TryRemove(token, out _);
            return null;
        }
        if (_cache.Count >= MaxCached)
        {
            _cache.Clear();
        }
        _cache[token] = (user, now + CacheTtl);
        return user;
    }
}
