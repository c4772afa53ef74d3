using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Orchestrator.Client.Hosting;
using Orchestrator.NodeProtocol;

namespace Orchestrator.NodeAgent.Join;

/// <summary>
/// The agent's side of the node bootstrap, over the HTTP API (k3s' agent join): fetch the CA from
/// /cacerts and check it against the hash in the bootstrap token, then trade a CSR of a fresh key
/// for a node certificate and token. Renewal is the same request with the node token.
/// </summary>
public sealed class NodeJoinClient(Uri server, TimeProvider time)
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The CA at /cacerts, if the token pins it. TLS is not checked for this one request:
    /// the agent trusts nothing yet, and the hash in the token is what makes the answer trusted (a
    /// token without a hash trusts the first answer, as k3s does for its short tokens).</summary>
    public async Task<string> FetchCaAsync(NodeJoinToken token, CancellationToken cancellationToken)
    {
        using var http = Client(validate: _ => true);
        var pem = await http.GetStringAsync(NodeJoinToken.CaCertsPath, cancellationToken);
        if (!token.Pins(pem))
        {
            throw new NodeJoinException($"the CA served by {server} does not match the hash in the node token (K10<hash>::...): "
                + "the token belongs to another cluster, or something else answers at this address");
        }
        return pem;
    }

    /// <summary>New credentials for <paramref name="nodeName"/>, authenticated by <paramref name="bearer"/>
    /// (the bootstrap token to join, the node token to renew), over TLS checked against <paramref name="caPem"/>.</summary>
    public async Task<NodeCredentialSet> RequestAsync(string nodeName, string bearer, string caPem, CancellationToken cancellationToken)
    {
        using var ca = X509Certificate2.CreateFromPem(caPem);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest($"CN={SystemNodePrefix}{nodeName}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        // The API's certificate is checked against the cluster CA, not by host name: agents dial the
        // API by whatever address reaches it, and the CA is this cluster's own.
        using var http = Client(validate: certificate => ClientCredentials.IsServedBy(ca, certificate));
        using var request = new HttpRequestMessage(HttpMethod.Post, NodeJoinToken.CredentialsPath)
        {
            Content = new StringContent(JsonSerializer.Serialize(new NodeCredentialRequest { NodeName = nodeName, Csr = csr }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        var issuedAt = time.GetUtcNow();
        using var response = await http.SendAsync(request, cancellationToken);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new NodeJoinException($"{server} refused the node credential request ({(int)response.StatusCode} {response.StatusCode}): {body}", response.StatusCode);
        }
        response.EnsureSuccessStatusCode();
        var answer = await response.Content.ReadFromJsonAsync<NodeCredentialResponse>(cancellationToken)
            ?? throw new NodeJoinException($"{server} answered the node credential request with an empty body");
        return new NodeCredentialSet
        {
            NodeName = nodeName,
            CaPem = answer.Ca,
            CertificatePem = answer.Certificate,
            KeyPem = key.ExportPkcs8PrivateKeyPem(),
            Token = answer.Token,
            IssuedAt = issuedAt,
            ExpirationTimestamp = answer.ExpirationTimestamp,
        };
    }

    private const string SystemNodePrefix = "system:node:";

    private HttpClient Client(Func<X509Certificate2?, bool> validate) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => validate(certificate as X509Certificate2) },
    })
    {
        BaseAddress = server,
        Timeout = RequestTimeout,
    };
}

/// <summary>The node cannot join: the message says why (a wrong token, another cluster's CA).
/// Not retried, unlike an unreachable server.</summary>
public sealed class NodeJoinException : Exception
{
    public NodeJoinException(string message, HttpStatusCode? status = null)
        : base(message)
    {
        Status = status;
    }

    public HttpStatusCode? Status { get; }
}
