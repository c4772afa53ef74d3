using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace Orchestrator.NodeAgent.Hosting;

public static class ClusterClientHosting
{
    /// <summary>Adds an Orleans client for the control plane, configured from "Orchestrator".</summary>
    public static IHostApplicationBuilder AddOrchestratorClient(this IHostApplicationBuilder builder)
    {
        var settings = builder.Configuration.GetSection("Orchestrator").Get<ClusterClientSettings>() ?? new ClusterClientSettings();
        builder.Services.AddSingleton(settings);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = settings.ServiceId;
            });
            switch (settings.Profile)
            {
                case "embedded":
                    client.UseLocalhostClustering(settings.GatewayPort, settings.ServiceId, settings.ClusterId);
                    break;
                default:
                    throw new InvalidOperationException($"Orchestrator:Profile \"{settings.Profile}\" is not available in this build; use \"embedded\".");
            }
            client.UseConnectionRetryFilter<ConnectDeadline>();
        });
        return builder;
    }
}
