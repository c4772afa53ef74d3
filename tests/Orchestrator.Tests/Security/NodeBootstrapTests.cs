using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Grains.Security;
using Orchestrator.Model;
using Orchestrator.NodeAgent;
using Orchestrator.NodeAgent.Join;
using Orchestrator.NodeProtocol;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Security;

/// <summary>
/// The node bootstrap, k3s style: the control plane writes a node-token that pins its CA; an agent
/// with it fetches /cacerts, checks the hash, and trades a CSR for a node certificate and token,
/// which it stores and renews with the node token. The bootstrap token opens nothing else.
/// </summary>
[Collection(ControlPlaneCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class NodeBootstrapTests(ControlPlaneFixture cp)
{
    private string NodeToken => File.ReadAllText(cp.NodeTokenPath).Trim();

    private ClusterCredentials Credentials => cp.Services.GetRequiredService<ClusterCredentials>();

    private HttpClient WithToken(string? token)
    {
        var http = Kubeconfig.AnonymousClient(cp.ApiAddress, cp.KubeconfigPath, TimeSpan.FromSeconds(30));
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return http;
    }

    private static string Csr(string commonName = "node")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
    }

    private static StringContent Body(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    private static string NewNodeName() => $"boot-{Guid.NewGuid():N}"[..16];

    [Fact]
    public void TheNodeTokenIsOwnerOnlyAndPinsTheClusterCa()
    {
        var token = NodeJoinToken.Parse(NodeToken);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cp.NodeTokenPath));
        Assert.StartsWith("K10", NodeToken, StringComparison.Ordinal);
        Assert.True(token.Pins(Credentials.CaCertificatePem));
        Assert.Equal($"node:{Credentials.NodeBootstrapSecret}", token.Credential);
    }

    [Fact]
    public async Task CaCertsServesTheCaToAnyone()
    {
        using var anonymous = WithToken(null);

        var pem = await anonymous.GetStringAsync("/cacerts");

        Assert.Equal(Credentials.CaCertificatePem, pem);
        Assert.True(NodeJoinToken.Parse(NodeToken).Pins(pem));
    }

    [Fact]
    public async Task TheBootstrapTokenBuysANodeCertificateAndTokenForTheCsrsKey()
    {
        var node = NewNodeName();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest("CN=whatever-the-csr-says", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        using var http = WithToken(NodeToken);

        using var response = await http.PostAsync(NodeJoinToken.CredentialsPath, Body(new { nodeName = node, csr }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = (await response.Content.ReadFromJsonAsync<NodeCredentialResponse>())!;
        using var certificate = X509Certificate2.CreateFromPem(answer.Certificate);
        Assert.Equal($"system:node:{node}", certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
        Assert.Contains("O=system:nodes", certificate.Subject, StringComparison.Ordinal);
        Assert.True(Credentials.Ca.IsClientCertificate(certificate, DateTimeOffset.UtcNow));
        // For the key the node holds: the CA signed the CSR's public key, not one of its own.
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), certificate.PublicKey.ExportSubjectPublicKeyInfo());
        Assert.Equal(Credentials.CaCertificatePem, answer.Ca);
        var lifetime = answer.ExpirationTimestamp - DateTimeOffset.UtcNow;
        Assert.InRange(lifetime, NodeTokens.DefaultLifetime - TimeSpan.FromMinutes(5), NodeTokens.DefaultLifetime);
        // The token is the node's: the API knows it as system:node:<name>.
        var user = await new NodeTokenAuthenticator(Credentials, TimeProvider.System).AuthenticateAsync(answer.Token, CancellationToken.None);
        Assert.Equal(node, user!.NodeName);
    }

    [Fact]
    public async Task AWrongBootstrapTokenGets401AndNoCertificate()
    {
        var wrong = NodeJoinToken.Format(Credentials.CaCertificatePem, "not-the-secret");
        using var http = WithToken(wrong);

        using var response = await http.PostAsync(NodeJoinToken.CredentialsPath, Body(new { nodeName = NewNodeName(), csr = Csr() }));

        var status = await ApiClient.StatusAsync(response, 401);
        Assert.Equal("Unauthorized", status.Reason);
        Assert.DoesNotContain("BEGIN CERTIFICATE", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheBootstrapUserCanDoNothingElseInTheApi()
    {
        var ns = await cp.NewNamespaceAsync("boot");
        using var http = WithToken(NodeToken);

        var list = await http.GetAsync($"/api/v1/namespaces/{ns}/pods");
        var create = await http.PostAsync($"/api/v1/namespaces/{ns}/pods", new StringContent(Serialization.ResourceJson.SerializeToString(Manifests.Pod("sneaky")), Encoding.UTF8, "application/json"));
        var nodes = await http.GetAsync("/api/v1/nodes");
        var discovery = await http.GetAsync("/api");
        var review = await http.PostAsync("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            Body(new { apiVersion = "authorization.k8s.io/v1", kind = "SelfSubjectRulesReview", spec = new { @namespace = ns } }));

        foreach (var response in new[] { list, create, nodes, discovery, review })
        {
            var status = await ApiClient.StatusAsync(response, 403);
            Assert.Contains(NodeBootstrapUser, status.Message, StringComparison.Ordinal);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await cp.Api.Http.GetAsync($"/api/v1/namespaces/{ns}/pods/sneaky")).StatusCode);
    }

    private const string NodeBootstrapUser = "system:bootstrap:node";

    [Fact]
    public async Task ANodeRenewsWithItsNodeTokenButCannotAskForAnotherNode()
    {
        var node = NewNodeName();
        using var bootstrap = WithToken(NodeToken);
        using var joined = await bootstrap.PostAsync(NodeJoinToken.CredentialsPath, Body(new { nodeName = node, csr = Csr() }));
        var first = (await joined.Content.ReadFromJsonAsync<NodeCredentialResponse>())!;
        using var asNode = WithToken(first.Token);

        using var renewed = await asNode.PostAsync(NodeJoinToken.CredentialsPath, Body(new { nodeName = node, csr = Csr() }));
        using var other = await asNode.PostAsync(NodeJoinToken.CredentialsPath, Body(new { nodeName = NewNodeName(), csr = Csr() }));

        Assert.Equal(HttpStatusCode.OK, renewed.StatusCode);
        var second = (await renewed.Content.ReadFromJsonAsync<NodeCredentialResponse>())!;
        Assert.NotEqual(first.Certificate, second.Certificate);
        using var certificate = X509Certificate2.CreateFromPem(second.Certificate);
        Assert.Equal($"system:node:{node}", certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
        var status = await ApiClient.StatusAsync(other, 403);
        Assert.Contains($"node \"{node}\" may renew only its own credentials", status.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Bad_Name", "nodeName")]
    [InlineData("", "nodeName")]
    [InlineData("ok-node", "csr")]
    public async Task ABadNodeNameOrCsrIsRejectedNamingTheField(string nodeName, string field)
    {
        var csr = field == "csr" ? "-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgY3Ny\n-----END CERTIFICATE REQUEST-----" : Csr();
        using var http = WithToken(NodeToken);

        using var response = await http.PostAsync(NodeJoinToken.CredentialsPath, Body(new { nodeName, csr }));

        var status = await ApiClient.StatusAsync(response, 422);
        Assert.Equal(field, Assert.Single(status.Details!.Causes!).Field);
    }

    [Fact]
    public async Task ACsrWhoseSignatureDoesNotVerifyIsRejected()
    {
        // A CSR signed by one key, carrying another's public key: its signer does not hold the key.
        using var signer = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=forged"), new PublicKey(other), HashAlgorithmName.SHA256);
        var forged = PemEncoding.WriteString("CERTIFICATE REQUEST", request.CreateSigningRequest(X509SignatureGenerator.CreateForECDsa(signer)));
        using var http = WithToken(NodeToken);

        using var response = await http.PostAsync(NodeJoinToken.CredentialsPath, Body(new { nodeName = NewNodeName(), csr = forged }));

        var status = await ApiClient.StatusAsync(response, 422);
        Assert.Equal("csr", Assert.Single(status.Details!.Causes!).Field);
    }

    [Fact]
    public async Task AnUnknownFieldOrNoBodyIsABadRequest()
    {
        using var http = WithToken(NodeToken);

        using var unknown = await http.PostAsync(NodeJoinToken.CredentialsPath, Body(new { nodeName = NewNodeName(), csr = Csr(), role = "admin" }));
        using var empty = await http.PostAsync(NodeJoinToken.CredentialsPath, new StringContent("", Encoding.UTF8, "application/json"));

        Assert.Contains("unknown field \"role\"", (await ApiClient.StatusAsync(unknown, 400)).Message, StringComparison.Ordinal);
        await ApiClient.StatusAsync(empty, 400);
    }

    /// <summary>A node agent process with the fake runtime, joining with <paramref name="join"/>.</summary>
    private static AgentProcess StartAgent(NodeAgentOptions options, ControlPlaneFixture cp, AgentJoin join) =>
        AgentProcess.Start(options, cp.GatewayPort, cp.ClusterId, join);

    private static NodeAgentOptions FakeNode(string name, string dataDirectory) => new()
    {
        NodeName = name,
        Runtime = "fake",
        DataDirectory = dataDirectory,
        NodeIP = "127.0.0.1",
        Cpu = "2",
        Memory = "4Gi",
    };

    private async Task WaitReadyAsync(string node) =>
        await Eventually.True(async () =>
        {
            var n = await cp.Api.TryGetAsync<Node>($"/api/v1/nodes/{node}");
            return n?.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == ConditionStatus.True) == true;
        }, $"node {node} Ready", TimeSpan.FromSeconds(60));

    [Fact]
    public async Task AnAgentJoinsWithTheNodeTokenRegistersItsNodeAndReusesItsCredentialsAfterARestart()
    {
        using var data = new TempDirectory("orch-join");
        var node = NewNodeName();
        var options = FakeNode(node, data.Path);
        var stored = new NodeCredentialFile(data.Path);
        var agent = StartAgent(options, cp, cp.Join);
        try
        {
            await WaitReadyAsync(node);
            var first = stored.Load()!;
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(stored.Path));
            using var certificate = first.LoadCertificate();
            Assert.Equal($"system:node:{node}", certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false));

            await agent.DisposeAsync();
            // Again without the bootstrap token: the stored credentials are all it needs.
            agent = StartAgent(options, cp, new AgentJoin(cp.ApiAddress, Path.Combine(data.Path, "no-such-token-file")));
            await Eventually.True(() => agent.Output.Contains("reuses its credentials", StringComparison.Ordinal), "the agent to reuse its credentials", TimeSpan.FromSeconds(30));
            var heartbeat = (await cp.Api.GetAsync<Node>($"/api/v1/nodes/{node}")).Status!.Conditions!.Single(c => c.Type == "Ready").LastHeartbeatTime;
            await Eventually.True(async () => (await cp.Api.GetAsync<Node>($"/api/v1/nodes/{node}")).Status!.Conditions!.Single(c => c.Type == "Ready").LastHeartbeatTime != heartbeat,
                "a heartbeat of the restarted agent", TimeSpan.FromSeconds(30));
            Assert.Equal(first.CertificatePem, stored.Load()!.CertificatePem);
        }
        catch
        {
            Console.WriteLine(agent.Output);
            throw;
        }
        finally
        {
            await agent.DisposeAsync();
            await cp.Api.SendAsync(HttpMethod.Delete, $"/api/v1/nodes/{node}");
        }
    }

    [Fact]
    public async Task AnAgentWithAWrongTokenExitsSayingSoAndJoinsNothing()
    {
        using var data = new TempDirectory("orch-join");
        var node = NewNodeName();
        var tokenFile = Path.Combine(data.Path, "token");
        await File.WriteAllTextAsync(tokenFile, NodeJoinToken.Format(Credentials.CaCertificatePem, "wrong"));
        await using var agent = StartAgent(FakeNode(node, Path.Combine(data.Path, "agent")), cp, new AgentJoin(cp.ApiAddress, tokenFile));

        await Eventually.True(() => agent.HasExited, "the agent to exit", TimeSpan.FromSeconds(60));

        Assert.Contains("refused the node credential request (401", agent.Output, StringComparison.Ordinal);
        Assert.Null(new NodeCredentialFile(Path.Combine(data.Path, "agent")).Load());
        Assert.Equal(HttpStatusCode.NotFound, (await cp.Api.Http.GetAsync($"/api/v1/nodes/{node}")).StatusCode);
    }

    [Fact]
    public async Task AnAgentRefusesACaThatDoesNotMatchItsToken()
    {
        using var data = new TempDirectory("orch-join");
        var node = NewNodeName();
        var tokenFile = Path.Combine(data.Path, "token");
        // The right secret, pinned to another CA.
        await File.WriteAllTextAsync(tokenFile, $"K10{new string('a', 64)}::node:{Credentials.NodeBootstrapSecret}");
        await using var agent = StartAgent(FakeNode(node, Path.Combine(data.Path, "agent")), cp, new AgentJoin(cp.ApiAddress, tokenFile));

        await Eventually.True(() => agent.HasExited, "the agent to exit", TimeSpan.FromSeconds(60));

        Assert.Contains("does not match the hash in the node token", agent.Output, StringComparison.Ordinal);
        Assert.Null(new NodeCredentialFile(Path.Combine(data.Path, "agent")).Load());
    }
}
