using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orchestrator.Grains.Persistence;
using Orchestrator.Grains.Resources;
using Orleans.Storage;

namespace Orchestrator.Grains.Hosting;

public static class ControlPlaneSiloBuilderExtensions
{
    /// <summary>
    /// Adds the control plane's grains and the services they share. The object store
    /// (<see cref="Store.IObjectStore"/>), the storage provider named "resources" (allocators'
    /// state) and the reminder service come from the storage profile (embedded SQLite or cluster
    /// PostgreSQL).
    /// </summary>
    public static ISiloBuilder AddControlPlane(this ISiloBuilder silo, IConfiguration configuration)
    {
        var services = silo.Services;
        services.AddOptions<ControlPlaneOptions>().Bind(configuration.GetSection(ControlPlaneOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ControlPlaneOptions>, ControlPlaneOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IGrainStorageSerializer, ResourceJsonGrainStorageSerializer>();
        services.AddSingleton<GarbageCollector>();
        services.AddSingleton<EventRecorder>();
        services.AddSingleton<GrainServices>();
        services.AddSingleton<Index.ResourceCaches>();
        // RBAC decides the API's requests; the rules review asks it directly, whatever else
        // (node authorization) is composed in front of it.
        services.AddSingleton<Security.RbacAuthorizer>();
        services.AddSingleton<Security.INodeGraph, Security.CachedNodeGraph>();
        services.TryAddSingleton<Security.IAuthorizer>(sp => new Security.NodeAuthorizer(
            sp.GetRequiredService<Security.INodeGraph>(), sp.GetRequiredService<Security.RbacAuthorizer>()));
        // ServiceAccount tokens, signed with the cluster credentials the host registers.
        services.AddSingleton<Security.ServiceAccountTokens>();
        services.AddSingleton<Security.ITokenObjectLookup, Security.CachedTokenObjectLookup>();
        services.AddSingleton<Security.ITokenAuthenticator, Security.ServiceAccountTokenAuthenticator>();
        // Node agents' tokens, issued with their certificates when they join.
        services.AddSingleton<Security.NodeTokens>();
        services.AddSingleton<Security.ITokenAuthenticator, Security.NodeTokenAuthenticator>();
        services.AddSingleton<Security.BearerTokenAuthentication>();
        // Grain calls: the control plane's own carry a marker; clients' are authenticated and
        // authorized as the API's requests are. The host adds a SiloCertificate for the proofs
        // that calls to node agents carry.
        services.AddOptions<Security.GrainCallAuthorizationOptions>().Bind(configuration.GetSection(Security.GrainCallAuthorizationOptions.Section));
        services.AddSingleton<Security.InternalCallMarker>();
        services.AddSingleton<Security.ControlPlaneProofs>();
        silo.AddOutgoingGrainCallFilter<Security.InternalCallStampFilter>();
        services.AddHostedService<ControlPlaneBootstrap>();
        services.AddHostedService<Events.EventSweeper>();
        // First: nothing of a client's call runs before it is authorized.
        silo.AddIncomingGrainCallFilter<Security.GrainCallAuthorizationFilter>();
        silo.AddIncomingGrainCallFilter<ProcessedCallFailureFilter>();
        return silo;
    }
}
