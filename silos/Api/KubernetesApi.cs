using Orchestrator.Grains.Kinds;
using Orchestrator.Model;

namespace Orchestrator.Silo.Api;

public static class KubernetesApi
{
    /// <summary>Maps the Kubernetes-style REST API of every registered kind, and the
    /// subresources that belong to one kind only (logs, eviction, rollback, tokens).</summary>
    public static IEndpointRouteBuilder MapKubernetesApi(this IEndpointRouteBuilder app)
    {
        Discovery.Map(app);
        OpenApi.OpenApiApi.Map(app);
        var mapper = new KindMapper(app);
        foreach (var kind in KindRegistry.All)
        {
            kind.Accept(mapper);
        }
        LogApi.Map(app);
        EvictionApi.Map(app);
        RollbackApi.Map(app);
        Security.AccessReviewApi.Map(app);
        Security.TokenRequestApi.Map(app);
        Security.NodeCredentialsApi.Map(app);
        return app;
    }

    private sealed class KindMapper(IEndpointRouteBuilder app) : IKindVisitor<bool>
    {
        public bool Visit<T>(Kind<T> kind) where T : class, IResource<T>
        {
            KindApi<T>.Map(app);
            if (kind.Scale is { } scale)
            {
                ScaleApi<T>.Map(app, scale);
            }
            return true;
        }
    }
}
