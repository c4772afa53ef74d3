using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orchestrator.Calls;
using Orleans.Configuration;
using StackExchange.Redis;

namespace Orchestrator.Client.Hosting;

public static class OrchestratorClientHosting
{
    /// <summary>
    /// Adds an Orleans client of the control plane and <see cref="IOrchestratorClient"/>,
    /// configured from the section "Orchestrator" with the same settings as the silos
    /// (<see cref="ClusterSettings"/>): localhost clustering (embedded) or the Redis gateway list
    /// (cluster). The client connects when the host starts and fails its start with
    /// <see cref="ControlPlaneUnreachableException"/> after Orchestrator:ConnectTimeout if no silo
    /// answers. Calls that fail without being processed while the cluster settles are retried
    /// (<see cref="TransientCallRetryFilter"/>, "Orchestrator:CallRetry").
    /// The client's credentials come from the kubeconfig at Orchestrator:Kubeconfig, read when the
    /// host starts (a start without it fails with <see cref="ClientCredentialsException"/>): its
    /// client certificate opens the gateway's mutual TLS, and its token goes with every call.
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is malformed; the message names its key.</exception>
    public static IServiceCollection AddOrchestratorClient(this IServiceCollection services, IConfiguration configuration) =>
        services.AddOrchestratorClient(configuration, credentials: null);

    /// <summary>As <see cref="AddOrchestratorClient(IServiceCollection, IConfiguration)"/> with
    /// credentials of the caller's own (the node agent's, which it renews) instead of a kubeconfig.</summary>
    public static IServiceCollection AddOrchestratorClient(this IServiceCollection services, IConfiguration configuration, ClientCredentials? credentials)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var settings = ClusterSettings.From(configuration);
        var options = configuration.GetSection(ClusterSettings.Section).Get<OrchestratorClientOptions>() ?? new OrchestratorClientOptions();
        var problems = new OrchestratorClientOptionsValidator().Validate(null, options);
        if (problems.Failed)
        {
            throw new OptionsValidationException(nameof(OrchestratorClientOptions), typeof(OrchestratorClientOptions), problems.Failures);
        }
        services.AddSingleton(settings);
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<CallRetryOptions>().Bind(configuration.GetSection(CallRetryOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CallRetryOptions>, CallRetryOptionsValidator>());
        services.TryAddSingleton<IOrchestratorClient, OrchestratorClient>();
        var source = new ClientCredentialsSource(credentials);
        services.AddSingleton(source);
        // Registered before the Orleans client: hosted services start in order, and the client's
        // first connection needs the credentials.
        services.AddHostedService(sp => ActivatorUtilities.CreateInstance<KubeconfigCredentialsLoader>(sp, options.Kubeconfig ?? ""));
        services.AddOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = settings.ServiceId;
            });
            if (settings.IsCluster)
            {
                client.UseRedisClustering(o => o.ConfigurationOptions = RedisOptions(settings.Redis));
                client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = options.GatewayListRefreshPeriod);
            }
            else
            {
                client.UseLocalhostClustering(settings.GatewayPort, settings.ServiceId, settings.ClusterId);
            }
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = options.ResponseTimeout);
            client.UseConnectionRetryFilter<ConnectDeadline>();
            client.UseOrchestratorTls(source);
            client.AddOutgoingGrainCallFilter<CallTokenFilter>();
            client.AddOutgoingGrainCallFilter<TransientCallRetryFilter>();
        });
        return services;
    }

    /// <summary>As <see cref="AddOrchestratorClient(IServiceCollection, IConfiguration)"/> with the
    /// builder's own configuration.</summary>
    public static IHostApplicationBuilder AddOrchestratorClient(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOrchestratorClient(builder.Configuration);
        return builder;
    }

    /// <summary>As <see cref="AddOrchestratorClient(IServiceCollection, IConfiguration, ClientCredentials)"/>
    /// with the builder's own configuration.</summary>
    public static IHostApplicationBuilder AddOrchestratorClient(this IHostApplicationBuilder builder, ClientCredentials credentials)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(credentials);
        builder.Services.AddOrchestratorClient(builder.Configuration, credentials);
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
