using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Orchestrator.Grains.Security;
using Orchestrator.Model;
using Orchestrator.NodeProtocol;
using Orchestrator.Silo.Api;
using Orchestrator.Validation;

namespace Orchestrator.Silo.Security;

/// <summary>
/// How a node agent joins, as a k3s agent does: it fetches the CA from the anonymous
/// <c>GET /cacerts</c> (and checks it against the hash in its bootstrap token), then sends
/// <c>POST /v1-orchestrator/node-credentials</c> with the bootstrap token as its bearer token and
/// <c>{nodeName, csr}</c>; it gets a client certificate for its own key (CN=system:node:&lt;name&gt;,
/// O=system:nodes), the CA, and a node token for its grain calls. It renews the same way with its
/// node token, which may renew only its own node's credentials (Kubernetes' NodeRestriction).
/// </summary>
public static class NodeCredentialsApi
{
    /// <summary>What the 422s name as the kind.</summary>
    private static readonly ResourceType Type = new("", "v1", "NodeCredentialRequest", "nodecredentials", Namespaced: false, HasStatus: false);

    private const string EcPublicKey = "1.2.840.10045.2.1";
    private const string RsaPublicKey = "1.2.840.113549.1.1.1";

    /// <summary>Whether <paramref name="user"/> may call the credentials endpoint without RBAC: the
    /// bootstrap user, and a node (for its own node only, checked by the endpoint).</summary>
    public static bool Admits(UserInfo user, string path) =>
        path == NodeJoinToken.CredentialsPath && (user.InGroup(NodeBootstrap.Group) || user.NodeName is not null);

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet(NodeJoinToken.CaCertsPath, (ClusterCredentials credentials) => Results.Text(credentials.CaCertificatePem, "application/x-pem-file"));
        app.MapPost(NodeJoinToken.CredentialsPath, async (HttpContext http, ClusterCredentials credentials, NodeTokens tokens, SecuritySettings settings, TimeProvider time) =>
        {
            var body = await RequestBody.ReadOptionalObjectAsync(http.Request, "a node credential request", "nodeName", "csr")
                ?? throw ApiErrors.BadRequest("the body must be a node credential request: {\"nodeName\": ..., \"csr\": ...}");
            var (nodeName, publicKey) = Validate(body);
            var user = http.User();
            if (user.NodeName is { } own && own != nodeName)
            {
                throw ApiErrors.Forbidden(Type, nodeName, $"node \"{own}\" may renew only its own credentials");
            }
            var lifetime = settings.NodeCredentialLifetime;
            using var certificate = credentials.Ca.IssueClient(publicKey, SystemUsers.Node(nodeName), [SystemGroups.Nodes], time.GetUtcNow(), lifetime);
            var token = tokens.Issue(nodeName, lifetime);
            var expires = new DateTimeOffset(certificate.NotAfter.ToUniversalTime()) < token.ExpirationTimestamp
                ? new DateTimeOffset(certificate.NotAfter.ToUniversalTime())
                : token.ExpirationTimestamp;
            return Results.Json(new NodeCredentialResponse
            {
                Certificate = certificate.ExportCertificatePem(),
                Ca = credentials.CaCertificatePem,
                Token = token.Token,
                ExpirationTimestamp = expires,
            });
        });
    }

    /// <summary>The node name and the CSR's key, or a 422 naming each bad field.</summary>
    private static (string NodeName, PublicKey Key) Validate(JsonObject body)
    {
        var errors = new FieldErrors();
        var nodeName = Text(body, "nodeName", errors);
        if (nodeName is { Length: > 0 })
        {
            foreach (var problem in Names.Dns1123Subdomain(nodeName))
            {
                errors.Invalid("nodeName", nodeName, problem);
            }
        }
        PublicKey? key = null;
        if (Text(body, "csr", errors) is { Length: > 0 } pem)
        {
            key = CsrKey(pem, errors);
        }
        if (errors.Any || nodeName is null || key is null)
        {
            throw ApiErrors.Invalid(Type, nodeName, errors);
        }
        return (nodeName, key);
    }

    private static string? Text(JsonObject body, string field, FieldErrors errors)
    {
        switch (body[field])
        {
            case null:
                errors.Required(field);
                return null;
            case JsonValue value when value.TryGetValue<string>(out var text):
                if (text.Length == 0)
                {
                    errors.Required(field);
                }
                return text;
            default:
                errors.Invalid(field, body[field]!.ToJsonString(), "must be a string");
                return null;
        }
    }

    /// <summary>The public key of a PKCS#10 CSR whose signature verifies (so the requester holds the
    /// key), of a kind and size TLS clients use: EC (P-256/384/521) or RSA of 2048 bits or more.</summary>
    private static PublicKey? CsrKey(string pem, FieldErrors errors)
    {
        CertificateRequest request;
        try
        {
            request = CertificateRequest.LoadSigningRequestPem(pem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.Default);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            errors.Invalid("csr", "", $"must be a PEM-encoded PKCS#10 certificate request with a valid signature: {ex.Message}");
            return null;
        }
        var key = request.PublicKey;
        switch (key.Oid.Value)
        {
            case EcPublicKey:
                return key;
            case RsaPublicKey when key.GetRSAPublicKey() is { KeySize: >= 2048 }:
                return key;
            case RsaPublicKey:
                errors.Invalid("csr", "", "an RSA key must have at least 2048 bits");
                return null;
            default:
                errors.NotSupported("csr", key.Oid.FriendlyName ?? key.Oid.Value ?? "", ["EC", "RSA"]);
                return null;
        }
    }
}
