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
            var rollback = await RequestBody.ReadOptionalObjectAsync(http.Request, "a rollback", "apiVersion", "kind", "name", "rollbackTo");
            var value = rollback?["rollbackTo"] switch
            {
                null => null,
                JsonObject to => to["revision"],
                _ => throw ApiErrors.BadRequest("rollbackTo must be an object such as {\"revision\": 2}"),
            };
            if (value is not null && (value.GetValueKind() != System.Text.Json.JsonValueKind.Number || !int.TryParse(value.ToJsonString(), out revision) || revision < 0))
            {
                throw ApiErrors.BadRequest("rollbackTo.revision must be a non-negative integer");
            }
            await KindApi<Deployment>.LoadAsync(grains, @namespace, name);
            var updated = await grains.GetGrain<IDeploymentGrain>(ResourceTypes.Deployment.Key(@namespace, name)).RollbackToAsync(revision);
            return JsonBody.Of(updated);
        });
}
