using System.Text.Json.Nodes;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.Silo.Api;

/// <summary>
/// POST /api/v1/namespaces/{ns}/pods/{name}/eviction (policy/v1 Eviction), what kubectl drain
/// calls: a graceful delete of the pod, honouring the eviction's deleteOptions.
/// </summary>
public static class EvictionApi
{
    public static void Map(IEndpointRouteBuilder app) =>
        app.MapPost("/api/v1/namespaces/{namespace}/pods/{name}/eviction", async (HttpContext http, IGrainFactory grains, string @namespace, string name) =>
        {
            var options = DeleteOptions.Default;
            if (http.Request.ContentLength > 0)
            {
                var body = await RequestBody.ReadAsync(http.Request, http.RequestAborted);
                if (RequestBody.Parse(body, RequestBody.FormatOf(http.Request, body))[0] is not JsonObject eviction)
                {
                    throw ApiErrors.BadRequest("an eviction must be an object");
                }
                foreach (var (key, _) in eviction)
                {
                    if (key is not ("apiVersion" or "kind" or "metadata" or "deleteOptions"))
                    {
                        throw ApiErrors.BadRequest($"strict decoding error: unknown field \"{key}\"");
                    }
                }
                if (eviction["metadata"]?["name"]?.GetValue<string>() is { } evictName && evictName != name)
                {
                    throw ApiErrors.BadRequest($"name in the eviction ({evictName}) does not match the pod ({name})");
                }
                if (eviction["deleteOptions"] is { } opts)
                {
                    options = ResourceJson.Decode<DeleteOptions>(opts);
                }
            }
            await KindApi<Pod>.LoadAsync(grains, @namespace, name);
            await grains.GetGrain<IPodGrain>(ResourceTypes.Pod.Key(@namespace, name)).DeleteAsync(options);
            return JsonBody.Of(new ApiStatus { Status = "Success", Code = 201 }, StatusCodes.Status201Created);
        });
}
