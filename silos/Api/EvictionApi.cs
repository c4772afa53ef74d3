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
            var eviction = await RequestBody.ReadOptionalObjectAsync(http.Request, "an eviction", "apiVersion", "kind", "metadata", "deleteOptions");
            var evictName = eviction?["metadata"] switch
            {
                null => null,
                JsonObject metadata => metadata["name"] switch
                {
                    null => null,
                    JsonValue v when v.TryGetValue<string>(out var text) => text,
                    _ => throw ApiErrors.BadRequest("metadata.name in an eviction must be a string"),
                },
                _ => throw ApiErrors.BadRequest("metadata in an eviction must be an object"),
            };
            if (evictName is not null && evictName != name)
            {
                throw ApiErrors.BadRequest($"name in the eviction ({evictName}) does not match the pod ({name})");
            }
            if (eviction?["deleteOptions"] is { } opts)
            {
                options = ResourceJson.Decode<DeleteOptions>(opts);
            }
            await KindApi<Pod>.LoadAsync(grains, @namespace, name);
            await grains.GetGrain<IPodGrain>(ResourceTypes.Pod.Key(@namespace, name)).DeleteAsync(options);
            return JsonBody.Of(new ApiStatus { Status = "Success", Code = 201 }, StatusCodes.Status201Created);
        });
}
