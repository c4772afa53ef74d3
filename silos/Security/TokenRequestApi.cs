using Orchestrator.Grains.Security;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Silo.Api;
using Orchestrator.Validation;

namespace Orchestrator.Silo.Security;

/// <summary>
/// POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token (authentication.k8s.io/v1
/// TokenRequest), what `kubectl create token` calls: a token of the ServiceAccount for the
/// audiences asked (the API server's by default), for expirationSeconds (default 3600, at least
/// 600), optionally bound to a pod of that account so that it dies with the pod.
/// </summary>
public static class TokenRequestApi
{
    /// <summary>Kubernetes' upper bound on expirationSeconds.</summary>
    private const long MaxExpirationSeconds = 1L << 32;

    /// <summary>JSON or YAML, or the protobuf kubectl's typed client sends.</summary>
    private static async Task<TokenRequest> ReadAsync(HttpRequest request)
    {
        var body = await RequestBody.ReadOptionalObjectAsync(request, "a TokenRequest", "apiVersion", "kind", "metadata", "spec", "status");
        return body is null ? new TokenRequest() : ResourceJson.Decode<TokenRequest>(body);
    }

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapPost("/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", async (HttpContext http, IGrainFactory grains, ServiceAccountTokens tokens, TimeProvider time, string @namespace, string name) =>
        {
            var request = await ReadAsync(http.Request);
            var spec = request.Spec;
            var seconds = spec.ExpirationSeconds ?? (long)ServiceAccountTokens.DefaultLifetime.TotalSeconds;
            var errors = new FieldErrors();
            if (seconds < (long)ServiceAccountTokens.MinimumLifetime.TotalSeconds)
            {
                errors.Invalid("spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes");
            }
            else if (seconds > MaxExpirationSeconds)
            {
                errors.Invalid("spec.expirationSeconds", seconds, "may not specify a duration larger than 2^32 seconds");
            }
            if (spec.BoundObjectRef is { } reference && reference.Kind != "Pod")
            {
                errors.NotSupported("spec.boundObjectRef.kind", reference.Kind ?? "", ["Pod"]);
            }
            if (errors.Any)
            {
                throw ApiErrors.Invalid(TokenRequest.Type, name, errors);
            }
            var sa = await KindApi<ServiceAccount>.LoadAsync(grains, @namespace, name);
            BoundObject? pod = null;
            BoundObject? node = null;
            if (spec.BoundObjectRef is { } podRef)
            {
                var bound = await KindApi<Pod>.LoadAsync(grains, @namespace, podRef.Name ?? "");
                if (!string.IsNullOrEmpty(podRef.Uid) && podRef.Uid != bound.Metadata.Uid)
                {
                    throw ApiErrors.Conflict(Pod.Type, podRef.Name!, $"the UID in the bound object reference ({podRef.Uid}) does not match the UID in record. The object might have been deleted and then recreated");
                }
                if (bound.Spec.ServiceAccountName != name)
                {
                    throw ApiErrors.BadRequest($"cannot bind token for serviceaccount \"{name}\" to pod running with different serviceaccount name.");
                }
                pod = new BoundObject(bound.Metadata.Name!, bound.Metadata.Uid!);
                if (bound.Spec.NodeName is { Length: > 0 } nodeName && await KindApi<Node>.Grain(grains, null, nodeName).GetAsync() is { } n)
                {
                    node = new BoundObject(nodeName, n.Metadata.Uid!);
                }
            }
            var audiences = spec.Audiences is { Count: > 0 } asked ? asked : [tokens.Issuer];
            var issued = tokens.Issue(sa, audiences, TimeSpan.FromSeconds(seconds), pod, node);
            var answer = request with
            {
                ApiVersion = "authentication.k8s.io/v1",
                Kind = "TokenRequest",
                Metadata = request.Metadata with { Name = name, Namespace = @namespace, CreationTimestamp = time.GetUtcNow() },
                Spec = spec with { Audiences = audiences, ExpirationSeconds = seconds },
                Status = new TokenRequestStatus { Token = issued.Token, ExpirationTimestamp = issued.ExpirationTimestamp },
            };
            return JsonBody.Of(answer, StatusCodes.Status201Created);
        });
}
