using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Grains.Security;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Security;

/// <summary>
/// The authorizer decides on the request as the server routes it, not as the client wrote it:
/// a user allowed pods and nothing else must not read a namespace through a path the server
/// normalizes into the namespace's (<c>pods/%2e%2e</c>), through encoded slashes or doubled
/// slashes. The control plane here has an authorizer that allows user "pod-reader" pods only
/// and records what it was asked.
/// </summary>
public sealed class RoutedAuthorizationTests : IClassFixture<RoutedAuthorizationTests.Fixture>
{
    private readonly Fixture _fixture;

    public RoutedAuthorizationTests(Fixture fixture)
    {
        _fixture = fixture;
    }

    public sealed class PodsOnly : IAuthorizer
    {
        public ConcurrentQueue<RequestAttributes> Asked { get; } = new();

        public ValueTask<AuthorizationDecision> AuthorizeAsync(RequestAttributes request, CancellationToken cancellationToken = default)
        {
            Asked.Enqueue(request);
            var allowed = request.User.InGroup(SystemGroups.Masters) || (request.IsResourceRequest && request.Resource == "pods" && request.ApiGroup == "");
            return ValueTask.FromResult(allowed ? AuthorizationDecision.Allow() : AuthorizationDecision.Deny(""));
        }
    }

    public sealed class Fixture : IAsyncLifetime
    {
        public PodsOnly Authorizer { get; } = new();

        public ControlPlaneFixture ControlPlane { get; }

        public Fixture()
        {
            ControlPlane = new ControlPlaneFixture([], services => services.AddSingleton<IAuthorizer>(Authorizer));
        }

        public Task InitializeAsync() => ControlPlane.InitializeAsync();

        public Task DisposeAsync() => ControlPlane.DisposeAsync();
    }

    private HttpClient PodReader()
    {
        var ca = Kubeconfig.Read(_fixture.ControlPlane.KubeconfigPath).CaPem;
        var certificate = _fixture.ControlPlane.Services.GetRequiredService<ClusterCredentials>().Ca.IssueClient("pod-reader", [], DateTimeOffset.UtcNow);
        var handler = new SocketsHttpHandler { UseProxy = false };
        handler.SslOptions.ClientCertificates = [certificate];
        handler.SslOptions.RemoteCertificateValidationCallback = (_, served, _, errors) => Kubeconfig.IsServedBy(ca, served, errors);
        return new HttpClient(handler) { BaseAddress = new Uri(_fixture.ControlPlane.ApiAddress), Timeout = TimeSpan.FromSeconds(30) };
    }

    [Fact]
    public async Task PodsAreReadable()
    {
        using var http = PodReader();

        using var response = await http.GetAsync("/api/v1/namespaces/default/pods");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ADotDotSegmentIsAuthorizedAsTheNamespaceItIsServedAs()
    {
        using var http = PodReader();

        var uri = new Uri(_fixture.ControlPlane.ApiAddress + "/api/v1/namespaces/default/pods/%2e%2e", new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var response = await http.GetAsync(uri);

        var status = await ApiClient.StatusAsync(response, 403);
        Assert.Equal("namespaces \"default\" is forbidden: User \"pod-reader\" cannot get resource \"namespaces\" in API group \"\" in the namespace \"default\"", status.Message);
        Assert.Contains(_fixture.Authorizer.Asked, a => a.User.Name == "pod-reader" && a.Resource == "namespaces" && a.Name == "default" && a.Verb == "get");
    }

    [Theory]
    [InlineData("/api/v1/namespaces/default/pods/%2e%2e")]
    [InlineData("/api/v1/namespaces/default/pods/%2E%2E/")]
    [InlineData("/api/v1/namespaces/default/pods/..%2F..%2Fdefault")]
    [InlineData("/api/v1/namespaces/default/pods/%2e%2e%2f%2e%2e%2fnamespaces%2fdefault")]
    [InlineData("/api/v1/namespaces/default/pods/x/%2e%2e/%2e%2e")]
    [InlineData("//api/v1/namespaces/default")]
    [InlineData("/api/v1//namespaces/default")]
    [InlineData("/api/v1/namespaces//default")]
    [InlineData("/api/v1/namespaces/default/pods/.%2e/.%2e/.%2e/namespaces/default")]
    public async Task NoEncodingReadsANamespaceWithPodRightsOnly(string path)
    {
        using var http = PodReader();

        // Sent exactly as written: no client-side canonicalization of dots or escapes.
        var uri = new Uri(_fixture.ControlPlane.ApiAddress + path, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var response = await http.GetAsync(uri);
        var body = await response.Content.ReadAsStringAsync();

        Assert.DoesNotContain("\"kind\":\"Namespace\"", body, StringComparison.Ordinal);
        Assert.True(response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.NotFound or HttpStatusCode.BadRequest,
            $"{path}: HTTP {(int)response.StatusCode} {body}");
    }
}
