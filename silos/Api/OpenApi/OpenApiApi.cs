using Microsoft.Net.Http.Headers;
using Orchestrator.Model;

namespace Orchestrator.Silo.Api.OpenApi;

/// <summary>
/// Serves the OpenAPI documents as Kubernetes does: /openapi/v2, the /openapi/v3 index and one v3
/// document per group-version. Every document has an ETag (its hash) and answers a matching
/// If-None-Match with 304; a v3 URL carrying the current hash may be cached for good, one carrying
/// an old hash is redirected to the current one. Only JSON is served: a client asking only for
/// the protobuf encoding (client-go's v2 download) gets 406, which kubectl 1.32 never needs, since
/// it validates and explains with v3 and leaves field validation to this server.
/// </summary>
public static class OpenApiApi
{
    private const string JsonMediaType = "application/json";

    public static void Map(IEndpointRouteBuilder app)
    {
        var documents = OpenApiDocuments.Registered();
        app.MapGet("/openapi/v2", (HttpContext http) => Serve(http, documents.V2, immutable: false));
        app.MapGet("/openapi/v3", (HttpContext http) => Serve(http, documents.V3Index, immutable: false));
        app.MapGet("/openapi/v3/{**groupVersion}", (HttpContext http, string groupVersion) =>
        {
            if (!documents.V3.TryGetValue(groupVersion, out var document))
            {
                return StatusBody.Of(new ApiStatus { Code = 404, Reason = StatusReason.NotFound, Message = $"the OpenAPI document of \"{groupVersion}\" was not found" });
            }
            var hash = http.Request.Query["hash"].ToString();
            if (hash.Length > 0 && hash != document.Hash)
            {
                // Kubernetes' answer to an outdated hash: the current document's URL, which a
                // client caches afresh.
                http.Response.Headers.CacheControl = "no-cache, private";
                return Results.Redirect($"/openapi/v3/{groupVersion}?hash={document.Hash}", permanent: true);
            }
            return Serve(http, document, immutable: hash.Length > 0);
        });
    }

    private static IResult Serve(HttpContext http, OpenApiDocument document, bool immutable)
    {
        if (!AcceptsJson(http.Request))
        {
            return StatusBody.Of(ApiErrors.NotAcceptable(JsonMediaType).Status);
        }
        var etag = $"\"{document.Hash}\"";
        var headers = http.Response.Headers;
        headers.ETag = etag;
        headers.Vary = "Accept";
        // A hash in the URL names one version of the document for good; without one the client
        // must revalidate (If-None-Match) before using what it cached.
        headers.CacheControl = immutable ? "public, immutable, max-age=31536000" : "no-cache, private";
        if (http.Request.Headers.IfNoneMatch.Any(v => v is not null && v.Split(',').Any(t => t.Trim() == etag || t.Trim() == "*")))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }
        return Results.Bytes(document.Json, JsonMediaType);
    }

    /// <summary>Whether the Accept header allows JSON (no header allows anything).</summary>
    private static bool AcceptsJson(HttpRequest request)
    {
        var accept = request.Headers.Accept.ToString();
        if (accept.Length == 0)
        {
            return true;
        }
        return MediaTypeHeaderValue.TryParseList([accept], out var types)
            && types.Any(t => t.MediaType.Value is JsonMediaType or "*/*" or "application/*");
    }
}
