using System.Text.Json.Nodes;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.Silo.Api;

/// <summary>
/// POST /apis/apps/v1/namespaces/{ns}/deployments/{name}/rollback with
/// <c>{"rollbackTo":{"revision":N}}</c> (0 or no body: the previous revision): kubectl rollout
/// undo as one call. The same is possible by PATCHing the old template into the deployment.
/// </summary>
public static class RollbackApi
{
    public static void Map(IEndpointRouteBuilder app) =>
        app.MapPost("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/rollback", async (HttpContext http, IGrainFactory grains, string @namespace, string name) =>
        {
            var revision = 0;
            if (http.Request.ContentLength > 0)
            {
                var body = await RequestBody.ReadAsync(http.Request, http.RequestAborted);
                var doc = RequestBody.Parse(body, RequestBody.FormatOf(http.Request, body))[0] as JsonObject;
                foreach (var (key, _) in doc ?? [])
                {
                    if (key is not ("apiVersion" or "kind" or "name" or "rollbackTo"))
                    {
                        throw ApiErrors.BadRequest($"unknown field \"{key}\" in a rollback (expected rollbackTo.revision)");
                    }
                }
                var value = doc?["rollbackTo"]?["revision"];
                if (value is not null && (value.GetValueKind() != System.Text.Json.JsonValueKind.Number || !int.TryParse(value.ToJsonString(), out revision) || revision < 0))
                {
                    throw ApiErrors.BadRequest("rollbackTo.revision must be a non-negative integer");
                }
            }
            await KindApi<Deployment>.LoadAsync(grains, @namespace, name);
            var updated = await grains.GetGrain<IDeploymentGrain>(ResourceTypes.Deployment.Key(@namespace, name)).RollbackToAsync(revision);
            return JsonBody.Of(updated);
        });
}
