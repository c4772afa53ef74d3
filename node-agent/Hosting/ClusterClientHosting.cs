using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orchestrator.Calls;
using Orleans.Configuration;
using StackExchange.Redis;

namespace Orchestrator.NodeAgent.Hosting;

public static class ClusterClientHosting
{
    /// <summary>
    /// Adds an Orleans client for the control plane, configured from "Orchestrator" with the
    /// same settings as the silos: localhost clustering (embedded) or the Redis gateway list
    /// (cluster). Calls that fail without being processed while the cluster settles are retried
    /// (<see cref="TransientCallRetryFilter"/>).
    /// </summary>
    public static IHostApplicationBuilder AddOrchestratorClient(this IHostApplicationBuilder builder)
    {
        var settings = builder.Configuration.GetSection("Orchestrator").Get<ClusterClientSettings>() ?? new ClusterClientSettings();
        var problems = new ClusterClientSettingsValidator().Validate(null, settings);
        if (problems.Failed)
        {
            throw new OptionsValidationException(nameof(ClusterClientSettings), typeof(ClusterClientSettings), problems.Failures);
        }
        builder.Services.AddSingleton(settings);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddOptions<CallRetryOptions>().Bind(builder.Configuration.GetSection(CallRetryOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<CallRetryOptions>, CallRetryOptionsValidator>();
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
                case "cluster":
                    client.UseRedisClustering(o => o.ConfigurationOptions = RedisOptions(settings.Redis));
                    client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = settings.GatewayListRefreshPeriod);
                    break;
            }
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = settings.ResponseTimeout);
            client.UseConnectionRetryFilter<ConnectDeadline>();
            client.AddOutgoingGrainCallFilter<TransientCallRetryFilter>();
        });
        return builder;
    }

    /// <summary>Redis options for reading the gateway list. The first connect fails at once when
    /// Redis is not up (StackExchange.Redis' default), so <see cref="ConnectDeadline"/> keeps
    /// control of how long the client waits (a connect attempt takes at most 2 s, so the client
    /// gives up at most that much after Orchestrator:ConnectTimeout); once connected, the connection is re-established in
    /// the background after a Redis restart. Single commands fail within a few seconds, so a
    /// gateway list refresh during a Redis outage does not hang.</summary>
    internal static ConfigurationOptions RedisOptions(string configuration)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 2000);
        options.SyncTimeout = Math.Min(options.SyncTimeout, 5000);
        options.AsyncTimeout = Math.Min(options.AsyncTimeout, 5000);
        return options;
    }
}
