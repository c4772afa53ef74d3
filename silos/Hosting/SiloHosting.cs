using System.Net;
using Microsoft.Extensions.Options;
using Orchestrator.Calls;
using Orchestrator.Client.Hosting;
using Orchestrator.Grains.Hosting;
using Orchestrator.Grains.Security;
using Orchestrator.Grains.Storage.Credentials;
using Orchestrator.Silo.Security;
using Orchestrator.Grains.Storage;
using Orchestrator.Grains.Storage.Postgres;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Serialization;
using StackExchange.Redis;

namespace Orchestrator.Silo.Hosting;

public static class SiloHosting
{
    /// <summary>The grain storage provider holding allocations (objects live in the object store).</summary>
    private const string ResourceStorage = "resources";

    /// <summary>
    /// Makes this web application a control-plane silo: Orleans with the storage profile chosen
    /// by configuration, the control plane's grains, and the HTTP API's services.
    /// </summary>
    public static WebApplicationBuilder AddOrchestratorSilo(this WebApplicationBuilder builder)
    {
        var cluster = ClusterSettings.From(builder.Configuration);
        var settings = builder.Configuration.GetSection(ClusterSettings.Section).Get<SiloSettings>() ?? new SiloSettings();
        var problems = new SiloSettingsValidator(cluster).Validate(settings);
        if (problems.Failed)
        {
            throw new OptionsValidationException(nameof(SiloSettings), typeof(SiloSettings), problems.Failures);
        }
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls(SiloSettings.DefaultUrl);
        }
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = Api.RequestBody.MaxDrainBytes);
        ICredentialStore credentialStore = cluster.IsCluster
            ? new PostgresCredentialStore(new PostgresStorageOptions { ConnectionString = settings.Postgres }.EffectiveConnectionString())
            : new FileCredentialStore(Path.GetFullPath(settings.DataDirectory));
        var credentials = builder.AddApiSecurity(credentialStore, settings, settings.PostgresStartTimeout);

        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = cluster.ServiceId;
            });
            if (cluster.IsCluster)
            {
                UseClusterProfile(silo, cluster, settings);
            }
            else
            {
                var dataDirectory = Path.GetFullPath(settings.DataDirectory);
                silo.UseLocalhostClustering(settings.SiloPort, cluster.GatewayPort, serviceId: cluster.ServiceId, clusterId: cluster.ClusterId);
                silo.AddSqliteGrainStorage(ResourceStorage, o => o.DataDirectory = dataDirectory);
                silo.AddSqliteObjectStore(o => o.DataDirectory = dataDirectory);
                silo.UseSqliteReminderService(o => o.DataDirectory = dataDirectory);
            }
            silo.UseSiloTls(credentials, TimeProvider.System);
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = settings.MinimumReminderPeriod);
            silo.Services.AddOptions<CallRetryOptions>().Bind(builder.Configuration.GetSection(CallRetryOptions.Section)).ValidateOnStart();
            silo.Services.AddSingleton<IValidateOptions<CallRetryOptions>, CallRetryOptionsValidator>();
            // Outgoing calls of this process: the HTTP API's and every grain's.
            silo.AddOutgoingGrainCallFilter<TransientCallRetryFilter>();
            if (settings.Dashboard)
            {
                silo.AddDashboard();
            }
            silo.AddControlPlane(builder.Configuration);
        });
        return builder;
    }

    /// <summary>Several silos: membership in Redis, grain state and reminders in PostgreSQL.</summary>
    private static void UseClusterProfile(ISiloBuilder silo, ClusterSettings cluster, SiloSettings settings)
    {
        silo.UseRedisClustering(o => o.ConfigurationOptions = RedisOptions(cluster.Redis));
        // Membership errors (Redis down) can reach callers of the management grain (the dashboard,
        // tools); let them cross the wire rather than fail as "no codec".
        silo.Services.Configure<ExceptionSerializationOptions>(o => o.SupportedNamespacePrefixes.Add("StackExchange.Redis"));
        silo.Configure<EndpointOptions>(o =>
        {
            o.SiloPort = settings.SiloPort;
            o.GatewayPort = cluster.GatewayPort;
            if (settings.AdvertisedIP is { } advertised)
            {
                o.AdvertisedIPAddress = IPAddress.Parse(advertised);
            }
            if (settings.ListenIP is { } listen)
            {
                o.SiloListeningEndpoint = new IPEndPoint(IPAddress.Parse(listen), settings.SiloPort);
                o.GatewayListeningEndpoint = new IPEndPoint(IPAddress.Parse(listen), cluster.GatewayPort);
            }
        });
        var m = settings.Membership;
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = m.ProbeTimeout;
            o.NumMissedProbesLimit = m.NumMissedProbesLimit;
            o.NumVotesForDeathDeclaration = m.NumVotesForDeathDeclaration;
            o.DeathVoteExpirationTimeout = m.DeathVoteExpirationTimeout;
            o.IAmAliveTablePublishTimeout = m.IAmAliveTablePublishTimeout;
            o.NumMissedTableIAmAliveLimit = m.NumMissedTableIAmAliveLimit;
            o.TableRefreshTimeout = m.TableRefreshTimeout;
            o.MaxJoinAttemptTime = m.MaxJoinAttemptTime;
        });
        void Postgres(PostgresStorageOptions o)
        {
            o.ConnectionString = settings.Postgres;
            o.StartTimeout = settings.PostgresStartTimeout;
        }
        silo.AddPostgresGrainStorage(ResourceStorage, Postgres);
        silo.AddPostgresObjectStore(Postgres);
        silo.UsePostgresReminderService(Postgres);
    }

    /// <summary>
    /// Redis options that ride out a Redis restart: keep reconnecting in the background instead of
    /// failing the first connect, and give up on a single command within a few seconds so a
    /// membership update fails (and is retried by Orleans) rather than hangs.
    /// </summary>
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
