using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Orchestrator.Model;

namespace Orchestrator.Grains.Security;

/// <summary>Where the authenticator looks up the objects a token names (this silo's caches in
/// the control plane; a dictionary in unit tests).</summary>
public interface ITokenObjectLookup
{
    Task<ServiceAccount?> ServiceAccountAsync(string ns, string name);

    Task<Pod?> PodAsync(string ns, string name);
}

/// <summary>
/// Accepts the ServiceAccount tokens of <see cref="ServiceAccountTokens"/>, as the apiserver's
/// ServiceAccount authenticator: signature, issuer, an audience that includes the API's own
/// (the issuer), lifetime with a minute of leeway, and then that the account still exists with
/// the uid in the token and, for a token bound to a pod, that the pod does too and is not
/// finished or being deleted. A token that is not a JWT or has another issuer is someone
/// else's (null); one of ours that fails a check is refused with the reason.
/// </summary>
public sealed class ServiceAccountTokenAuthenticator(IClusterCredentials credentials, ITokenObjectLookup objects, TimeProvider time) : ITokenAuthenticator
{
    public const string PodNameKey = "authentication.kubernetes.io/pod-name";
    public const string PodUidKey = "authentication.kubernetes.io/pod-uid";
    public const string NodeNameKey = "authentication.kubernetes.io/node-name";
    public const string NodeUidKey = "authentication.kubernetes.io/node-uid";
    public const string CredentialIdKey = "authentication.kubernetes.io/credential-id";

    private readonly JsonWebTokenHandler _handler = new();

    public async ValueTask<UserInfo?> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        if (ClusterJwts.ReadOwn(_handler, token, credentials.Issuer) is not { } jwt)
        {
            return null;
        }
        var result = await ClusterJwts.ValidateAsync(_handler, jwt, credentials.Issuer, credentials.Issuer, credentials.ServiceAccountKey, time);
        if (!result.IsValid)
        {
            throw new UnauthorizedAccessException(Reason(result.Exception, jwt, time.GetUtcNow().UtcDateTime));
        }
        var claim = ParseClaim(jwt);
        var sa = await objects.ServiceAccountAsync(claim.Namespace, claim.ServiceAccount.Name);
        if (sa is null)
        {
            throw new UnauthorizedAccessException($"service account {claim.Namespace}/{claim.ServiceAccount.Name} has been deleted");
        }
        if (sa.Metadata.Uid != claim.ServiceAccount.Uid)
        {
            throw new UnauthorizedAccessException($"service account UID ({sa.Metadata.Uid}) does not match claim ({claim.ServiceAccount.Uid})");
        }
        var extra = new Dictionary<string, IReadOnlyList<string>>();
        if (claim.Pod is { } bound)
        {
            var pod = await objects.PodAsync(claim.Namespace, bound.Name);
            if (pod is null)
            {
                throw new UnauthorizedAccessException($"pod {claim.Namespace}/{bound.Name} has been deleted");
            }
            if (pod.Metadata.Uid != bound.Uid)
            {
                throw new UnauthorizedAccessException($"pod UID ({pod.Metadata.Uid}) does not match claim ({bound.Uid})");
            }
            if (pod.IsTerminal() || pod.Metadata.DeletionTimestamp is { } deleting && deleting <= time.GetUtcNow())
            {
                throw new UnauthorizedAccessException($"pod {claim.Namespace}/{bound.Name} is no longer running; its token is invalid");
            }
            extra[PodNameKey] = [bound.Name];
            extra[PodUidKey] = [bound.Uid];
        }
        if (claim.Node is { } node)
        {
            extra[NodeNameKey] = [node.Name];
            extra[NodeUidKey] = [node.Uid];
        }
        if (jwt.Id is { Length: > 0 } jti)
        {
            extra[CredentialIdKey] = ["JTI=" + jti];
        }
        return new UserInfo
        {
            Name = SystemUsers.ServiceAccount(claim.Namespace, claim.ServiceAccount.Name),
            Uid = sa.Metadata.Uid,
            Groups = [SystemGroups.ServiceAccounts, SystemGroups.ServiceAccountsOf(claim.Namespace), SystemGroups.Authenticated],
            Extra = extra,
        };
    }

    private static string Reason(Exception? ex, JsonWebToken jwt, DateTime now) => ex switch
    {
        SecurityTokenInvalidLifetimeException when jwt.ValidTo.Add(ClusterJwts.Leeway) < now => "service account token has expired",
        SecurityTokenInvalidLifetimeException => "service account token is not valid yet",
        SecurityTokenInvalidAudienceException => $"token audiences [{string.Join(", ", jwt.Audiences)}] is invalid for the target audiences",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "invalid service account token signature",
        SecurityTokenInvalidAlgorithmException => "unexpected service account token signing algorithm",
        _ => "invalid service account token: " + (ex?.Message ?? "unknown reason"),
    };

    private sealed record Named(string Name, string Uid);

    private sealed record KubernetesClaim(string Namespace, Named ServiceAccount, Named? Pod, Named? Node);

    /// <summary>The "kubernetes.io" claim; a token of ours without it is not a ServiceAccount token.</summary>
    private static KubernetesClaim ParseClaim(JsonWebToken jwt)
    {
        try
        {
            using var payload = JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(jwt.EncodedPayload));
            var k8s = payload.RootElement.GetProperty(ServiceAccountTokens.KubernetesClaim);
            var sa = NamedOf(k8s, "serviceaccount") ?? throw new UnauthorizedAccessException("token has no serviceaccount in its kubernetes.io claim");
            return new KubernetesClaim(k8s.GetProperty("namespace").GetString()!, sa, NamedOf(k8s, "pod"), NamedOf(k8s, "node"));
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or JsonException or FormatException)
        {
            throw new UnauthorizedAccessException("token has no valid kubernetes.io claim");
        }
    }

    private static Named? NamedOf(JsonElement k8s, string property) =>
        k8s.TryGetProperty(property, out var o) && o.ValueKind == JsonValueKind.Object
            ? new Named(o.GetProperty("name").GetString()!, o.GetProperty("uid").GetString()!)
            : null;
}

/// <summary>The objects of a token from this silo's caches, once more after catching up when the
/// first answer is "gone" (the object may have been created through another silo a moment ago).</summary>
public sealed class CachedTokenObjectLookup(Index.ResourceCaches caches) : ITokenObjectLookup
{
    public Task<ServiceAccount?> ServiceAccountAsync(string ns, string name) => GetAsync<ServiceAccount>(ns, name);

    public Task<Pod?> PodAsync(string ns, string name) => GetAsync<Pod>(ns, name);

    private async Task<T?> GetAsync<T>(string ns, string name) where T : class, IResource<T>
    {
        var cache = caches.Of<T>();
        var key = T.Type.Key(ns, name);
        if (await cache.GetAsync(key) is { } found)
        {
            return found;
        }
        await cache.SyncAsync();
        return await cache.GetAsync(key);
    }
}
