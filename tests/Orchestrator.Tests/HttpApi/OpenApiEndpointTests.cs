using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.HttpApi;

/// <summary>How the OpenAPI documents are served: JSON only, cached by hash and ETag, as kubectl's
/// OpenAPI client expects.</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class OpenApiEndpointTests(ControlPlaneFixture cp)
{
    private async Task<HttpResponseMessage> GetAsync(string path, string? accept = null, string? ifNoneMatch = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (accept is not null)
        {
            // Not parsed: .NET refuses the '@' of kubectl's protobuf OpenAPI media type.
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }
        if (ifNoneMatch is not null)
        {
            request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(ifNoneMatch));
        }
        return await cp.Api.Http.SendAsync(request);
    }

    /// <summary>A GET as the admin that shows a redirect instead of following it (.NET's client
    /// would follow it without the token).</summary>
    private async Task<HttpResponseMessage> WithoutRedirectsAsync(string path)
    {
        var config = Kubeconfig.Read(cp.KubeconfigPath);
        using var client = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, errors) => Kubeconfig.IsServedBy(config.CaPem, certificate, errors) },
        });
        using var request = new HttpRequestMessage(HttpMethod.Get, cp.ApiAddress + path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", config.Token);
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task TheV3IndexPointsAtDocumentsThatAreCachedByHash()
    {
        var index = JsonNode.Parse(await (await GetAsync("/openapi/v3", "application/json")).Content.ReadAsStringAsync())!;
        var url = (string)index["paths"]!["apis/apps/v1"]!["serverRelativeURL"]!;

        using var document = await GetAsync(url, "application/json");
        var etag = document.Headers.ETag!.Tag;
        using var revalidated = await GetAsync(url, "application/json", etag);
        using var outdated = await WithoutRedirectsAsync(url.Split('?')[0] + "?hash=0123");

        Assert.Equal(HttpStatusCode.OK, document.StatusCode);
        Assert.True(document.Headers.CacheControl!.Public);
        Assert.Equal("3.0.0", (string?)JsonNode.Parse(await document.Content.ReadAsStringAsync())!["openapi"]);
        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        Assert.Equal(HttpStatusCode.MovedPermanently, outdated.StatusCode);
        Assert.Equal(url, outdated.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task V2IsJsonAndAProtobufOnlyRequestIsNotAcceptable()
    {
        using var json = await GetAsync("/openapi/v2", "application/json");
        using var protobuf = await GetAsync("/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf");

        Assert.Equal(HttpStatusCode.OK, json.StatusCode);
        Assert.Equal("2.0", (string?)JsonNode.Parse(await json.Content.ReadAsStringAsync())!["swagger"]);
        Assert.Equal(HttpStatusCode.NotAcceptable, protobuf.StatusCode);
    }
}
