using System.Net;
using System.Net.Http.Headers;
using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orchestrator.Grains.Security;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Silo.Hosting;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Security;

/// <summary>
/// The API's boundary: HTTPS with the cluster CA, a credential on every request but the public
/// health and version paths, client certificates of the cluster CA, impersonation, and the
/// admin kubeconfig that kubectl uses as it is. Each refusal also checks that nothing changed.
/// </summary>
[Collection(ControlPlaneCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class ApiSecurityTests(ControlPlaneFixture cp)
{
    private HttpClient Anonymous() => Kubeconfig.AnonymousClient(cp.ApiAddress, cp.KubeconfigPath, TimeSpan.FromSeconds(30));

    private HttpClient WithToken(string token)
    {
        var http = Anonymous();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private HttpClient WithCertificate(X509Certificate2 certificate)
    {
        var ca = Kubeconfig.Read(cp.KubeconfigPath).CaPem;
        var handler = new SocketsHttpHandler { UseProxy = false };
        handler.SslOptions.ClientCertificates = [certificate];
        handler.SslOptions.RemoteCertificateValidationCallback = (_, served, _, errors) => Kubeconfig.IsServedBy(ca, served, errors);
        return new HttpClient(handler) { BaseAddress = new Uri(cp.ApiAddress), Timeout = TimeSpan.FromSeconds(30) };
    }

    private ClusterCredentials Credentials => cp.Services.GetRequiredService<ClusterCredentials>();

    [Fact]
    public async Task ARequestWithoutACredentialIsUnauthorizedAndChangesNothing()
    {
        var ns = await cp.NewNamespaceAsync("sec");
        using var anonymous = Anonymous();

        var list = await anonymous.GetAsync($"/api/v1/namespaces/{ns}/pods");
        var create = await anonymous.PostAsync($"/api/v1/namespaces/{ns}/pods", Json(Manifests.Pod("intruder")));

        var status = await ApiClient.StatusAsync(list, 401);
        Assert.Equal("Unauthorized", status.Reason);
        await ApiClient.StatusAsync(create, 401);
        Assert.Equal(HttpStatusCode.NotFound, (await cp.Api.Http.GetAsync($"/api/v1/namespaces/{ns}/pods/intruder")).StatusCode);
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/livez")]
    [InlineData("/readyz")]
    [InlineData("/version")]
    public async Task HealthAndVersionAnswerAnyone(string path)
    {
        using var anonymous = Anonymous();

        using var response = await anonymous.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("not-the-token")]
    [InlineData("")]
    public async Task AWrongTokenIsUnauthorizedAndChangesNothing(string token)
    {
        var ns = await cp.NewNamespaceAsync("sec");
        using var http = Anonymous();
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/namespaces/{ns}/pods") { Content = Json(Manifests.Pod("intruder")) };
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);

        await ApiClient.StatusAsync(await http.SendAsync(request), 401);
        using var basic = WithToken("x");
        basic.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", "YWRtaW46YWRtaW4=");
        await ApiClient.StatusAsync(await basic.GetAsync($"/api/v1/namespaces/{ns}/pods"), 401);
        Assert.Equal(HttpStatusCode.NotFound, (await cp.Api.Http.GetAsync($"/api/v1/namespaces/{ns}/pods/intruder")).StatusCode);
    }

    [Fact]
    public async Task AClientCertificateOfTheClusterCaNamesTheUserAndItsGroups()
    {
        using var admin = Credentials.Ca.IssueClient("ops-admin", [SystemGroups.Masters], DateTimeOffset.UtcNow);
        using var jane = Credentials.Ca.IssueClient("jane", ["developers"], DateTimeOffset.UtcNow);
        using var asAdmin = WithCertificate(admin);
        using var asJane = WithCertificate(jane);

        using var allowed = await asAdmin.GetAsync("/api/v1/namespaces/default");
        using var denied = await asJane.GetAsync("/api/v1/namespaces/kube-system/pods");

        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        var status = await ApiClient.StatusAsync(denied, 403);
        Assert.Equal("pods is forbidden: User \"jane\" cannot list resource \"pods\" in API group \"\" in the namespace \"kube-system\"", status.Message);
    }

    [Fact]
    public async Task AClientCertificateOfAnotherCaIsUnauthorized()
    {
        using var otherCa = CertificateAuthority.Create("someone-else", DateTimeOffset.UtcNow);
        using var forged = otherCa.IssueClient("system:admin", [SystemGroups.Masters], DateTimeOffset.UtcNow);
        using var http = WithCertificate(forged);

        using var response = await http.GetAsync("/api/v1/namespaces");

        await ApiClient.StatusAsync(response, 401);
    }

    [Fact]
    public async Task AnExpiredClientCertificateIsUnauthorized()
    {
        using var expired = Credentials.Ca.IssueClient("system:admin", [SystemGroups.Masters], DateTimeOffset.UtcNow.AddDays(-2), TimeSpan.FromDays(1));
        using var http = WithCertificate(expired);

        using var response = await http.GetAsync("/api/v1/namespaces");

        await ApiClient.StatusAsync(response, 401);
    }

    [Fact]
    public async Task PlainHttpOnTheApiPortGetsNoAnswerFromTheApi()
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri($"http://127.0.0.1:{cp.HttpPort}"), Timeout = TimeSpan.FromSeconds(10) };

        // Kestrel ends a connection that does not start with a TLS handshake.
        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/api/v1/namespaces/default"));
        Assert.Equal(HttpRequestError.ResponseEnded, ex.HttpRequestError);
    }

    [Fact]
    public async Task AClientThatDoesNotTrustTheClusterCaCannotConnect()
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri(cp.ApiAddress), Timeout = TimeSpan.FromSeconds(10) };

        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/healthz"));
    }

    [Fact]
    public async Task ImpersonationNeedsTheImpersonateVerbAndThenActsAsTheUser()
    {
        using var jane = Credentials.Ca.IssueClient("jane", ["developers"], DateTimeOffset.UtcNow);
        using var asJane = WithCertificate(jane);
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/namespaces");
        request.Headers.Add("Impersonate-User", "system:admin");
        var escalate = await asJane.SendAsync(request);
        var asBob = new HttpRequestMessage(HttpMethod.Get, "/api/v1/namespaces/default/pods");
        asBob.Headers.Add("Impersonate-User", "bob");

        var bob = await cp.Api.Http.SendAsync(asBob);

        var refused = await ApiClient.StatusAsync(escalate, 403);
        Assert.Equal("users \"system:admin\" is forbidden: User \"jane\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope", refused.Message);
        var bobStatus = await ApiClient.StatusAsync(bob, 403);
        Assert.StartsWith("pods is forbidden: User \"bob\" cannot list", bobStatus.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheKubeconfigIsTheOwnersOnlyAndKubectlWorksWithIt()
    {
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cp.KubeconfigPath));

        var output = await HostCommand.CheckAsync("kubectl", ["--kubeconfig", cp.KubeconfigPath, "get", "namespaces", "-o", "name"]);

        Assert.Contains("namespace/default", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KubectlWithAnAlteredTokenIsRefused()
    {
        using var temp = new TempDirectory("orch-kubeconfig");
        var copy = Path.Combine(temp.Path, "config");
        var config = Kubeconfig.Read(cp.KubeconfigPath);
        await File.WriteAllTextAsync(copy, (await File.ReadAllTextAsync(cp.KubeconfigPath)).Replace(config.Token, config.Token[..^4] + "AAAA", StringComparison.Ordinal));

        var result = await HostCommand.RunAsync("kubectl", ["--kubeconfig", copy, "get", "namespaces"]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Unauthorized", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void AnHttpAddressIsRefusedAtStart()
    {
        using var data = new TempDirectory("orch-http");

        var ex = Assert.Throws<OptionsValidationException>(() => SiloApp.Build([$"--urls=http://127.0.0.1:{Ports.Free()}", $"--Orchestrator:DataDirectory={data.Path}"]));

        Assert.Contains("serves HTTPS only", ex.Message, StringComparison.Ordinal);
    }

    private static StringContent Json<T>(T obj) where T : class =>
        new(ResourceJson.SerializeToString(obj), new MediaTypeHeaderValue("application/json"));
}
