using Orchestrator.Model;

namespace Orchestrator.Silo.Api;

public static class KubernetesApi
{
    /// <summary>Maps the Kubernetes-style REST API of every kind we serve.</summary>
    public static IEndpointRouteBuilder MapKubernetesApi(this IEndpointRouteBuilder app)
    {
        Discovery.Map(app);
        KindApi<Namespace>.Map(app);
        KindApi<Node>.Map(app);
        KindApi<Pod>.Map(app);
        LogApi.Map(app);
        EvictionApi.Map(app);
        KindApi<Service>.Map(app);
        KindApi<Endpoints>.Map(app);
        KindApi<Event>.Map(app);
        KindApi<ReplicaSet>.Map(app);
        KindApi<Deployment>.Map(app);
        RollbackApi.Map(app);
        ScaleApi<ReplicaSet>.Map(app,
            rs => rs.Spec.Replicas ?? 1,
            (rs, n) => rs with { Spec = rs.Spec with { Replicas = n } },
            rs => rs.Status?.Replicas ?? 0,
            rs => rs.Spec.Selector);
        ScaleApi<Deployment>.Map(app,
            d => d.Spec.Replicas ?? 1,
            (d, n) => d with { Spec = d.Spec with { Replicas = n } },
            d => d.Status?.Replicas ?? 0,
            d => d.Spec.Selector);
        return app;
    }
}
