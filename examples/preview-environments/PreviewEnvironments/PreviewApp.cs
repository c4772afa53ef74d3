using Orchestrator.Client;
using Orchestrator.Client.Hosting;
using Orchestrator.Model;

namespace PreviewEnvironments;

/// <summary>
/// Preview environments for a team's branches: <c>POST /previews/{name}</c> with
/// <c>{"image": "...", "port": 8080, "replicas": 1}</c> creates the deployment
/// <c>preview-{name}</c> and a ClusterIP service of the same name in the namespace "previews";
/// <c>GET</c> shows how far it is; <c>POST /previews/{name}/scale</c> with
/// <c>{"replicas": n}</c> scales it; <c>DELETE</c> tears both down. Errors from the control plane
/// come back as its Kubernetes Status, with the status code it names.
/// </summary>
public static class PreviewApp
{
    public const string Namespace = "previews";

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        // Connects to the control plane named by the "Orchestrator" settings, like a silo reads them.
        builder.Services.AddOrchestratorClient(builder.Configuration);
        var app = builder.Build();

        app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (ApiException ex)
            {
                context.Response.StatusCode = ex.Code;
                await context.Response.WriteAsJsonAsync(new { ex.Status.Code, ex.Status.Reason, ex.Status.Message, Causes = ex.Status.Details?.Causes });
            }
        });

        app.MapPost("/previews/{name}", async (string name, PreviewRequest request, IOrchestratorClient client) =>
        {
            await EnsureNamespaceAsync(client);
            var preview = Preview.For(name, request);
            var deployment = await client.Deployments(Namespace).CreateAsync(preview.Deployment);
            try
            {
                await client.Services(Namespace).CreateAsync(preview.Service);
            }
            catch (ApiException)
            {
                // All or nothing: a preview without its service is no use.
                await client.Deployments(Namespace).DeleteAsync(deployment.Metadata.Name!);
                throw;
            }
            return Results.Created($"/previews/{name}", PreviewStatus.Of(deployment));
        });

        app.MapGet("/previews/{name}", async (string name, IOrchestratorClient client) =>
            await client.Deployments(Namespace).FindAsync(Preview.NameOf(name)) is { } d ? Results.Ok(PreviewStatus.Of(d)) : Results.NotFound());

        app.MapPost("/previews/{name}/scale", async (string name, ScaleRequest request, IOrchestratorClient client) =>
            Results.Ok(PreviewStatus.Of(await client.Deployments(Namespace).ScaleAsync(Preview.NameOf(name), request.Replicas))));

        app.MapDelete("/previews/{name}", async (string name, IOrchestratorClient client) =>
        {
            var found = false;
            foreach (var delete in new Func<Task>[]
            {
                () => client.Services(Namespace).DeleteAsync(Preview.NameOf(name)),
                () => client.Deployments(Namespace).DeleteAsync(Preview.NameOf(name)),
            })
            {
                try
                {
                    await delete();
                    found = true;
                }
                catch (ApiException ex) when (ex.Code == 404)
                {
                }
            }
            return found ? Results.NoContent() : Results.NotFound();
        });
        return app;
    }

    private static async Task EnsureNamespaceAsync(IOrchestratorClient client)
    {
        if (await client.Namespaces().FindAsync(Namespace) is null)
        {
            try
            {
                await client.Namespaces().CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = Namespace } });
            }
            catch (ApiException ex) when (ex.Code == 409)
            {
                // Another request created it first.
            }
        }
    }
}

public sealed record PreviewRequest(string Image, int Port = 8080, int Replicas = 1);

public sealed record ScaleRequest(int Replicas);

public sealed record PreviewStatus(string Name, int Replicas, int ReadyReplicas, string? ResourceVersion)
{
    public static PreviewStatus Of(Deployment d) =>
        new(d.Metadata.Name!, d.Spec.Replicas ?? 1, d.Status?.ReadyReplicas ?? 0, d.Metadata.ResourceVersion);
}
