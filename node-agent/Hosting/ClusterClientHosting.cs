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
            client.UseConnectionRetryFilter<ConnectDeadline>();
            client.AddOutgoingGrainCallFilter<TransientCallRetryFilter>();
        });
        return builder;
    }

    /// <summary>Redis options for reading the gateway list: reconnect in the background rather
    /// than fail the first connect (Redis may start after the client), and fail single commands
    /// within seconds so a refresh during a Redis restart does not hang.</summary>
    internal static ConfigurationOptions RedisOptions(string configuration)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 5000);
        options.SyncTimeout = Math.Min(options.SyncTimeout, 5000);
        options.AsyncTimeout = Math.Min(options.AsyncTimeout, 5000);
        return options;
    }
}
