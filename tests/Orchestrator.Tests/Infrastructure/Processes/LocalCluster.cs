using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.Client.Hosting;

namespace Orchestrator.Tests.Infrastructure.Processes;

/// <summary>
/// A cluster-profile control plane on this machine: silo processes sharing one Redis (membership)
/// and a database of their own on one PostgreSQL, plus an in-process Orleans client built with
/// the node agent's own hosting code. Silos can be added, killed and restarted while it runs.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    private readonly List<SiloProcess> _silos = [];
    private readonly List<SiloProcess> _stopped = [];
    private readonly string _directory;
    private readonly RedisServer _redis;
    private IHost? _clientHost;
    private int _siloCount;

    private LocalCluster(string directory, RedisServer redis, string name, string postgres, IReadOnlyList<string> settings)
    {
        _directory = directory;
        _redis = redis;
        Name = name;
        Postgres = postgres;
        Settings = settings;
    }

    /// <summary>Cluster id, service id and database name.</summary>
    public string Name { get; }

    /// <summary>Connection string of the cluster's database.</summary>
    public string Postgres { get; }

    /// <summary>The --Key=Value arguments every silo of this cluster gets.</summary>
    public IReadOnlyList<string> Settings { get; }

    /// <summary>Silos started and not killed or stopped, in start order (a copy: tests read it
    /// while other tasks kill silos).</summary>
    public IReadOnlyList<SiloProcess> Silos
    {
        get
        {
            lock (_silos)
            {
                return [.. _silos];
            }
        }
    }

    /// <summary>
    /// Settings that make controllers and failure detection quick, as the tests want: reminders
    /// every second at least, controllers resync every 5 s, node leases of 5 s, and the cluster
    /// profile's failure detection (1 s probes, 3 missed) spelled out.
    /// </summary>
    public static IEnumerable<string> FastSettings =>
    [
        "--Orchestrator:MinimumReminderPeriod=00:00:01",
        "--Orchestrator:ResyncPeriod=00:00:05",
        "--Orchestrator:NodeLeaseDuration=00:00:05",
        "--Orchestrator:Membership:ProbeTimeout=00:00:01",
        "--Orchestrator:Membership:NumMissedProbesLimit=3",
        "--Logging:Console:TimestampFormat=HH:mm:ss.fff ",
        "--Logging:LogLevel:Default=Warning",
        "--Logging:LogLevel:Orleans.Runtime.Silo=Information",
        "--Logging:LogLevel:Orleans.Runtime.MembershipService=Information",
    ];

    /// <summary>Creates the cluster's database and starts <paramref name="silos"/> silos (not yet ready: see <see cref="WaitReadyAsync"/>).</summary>
    /// <param name="redis">The membership store.</param>
    /// <param name="postgres">The server the cluster's database is created on.</param>
    /// <param name="directory">Where silo logs go.</param>
    /// <param name="silos">How many silos to start.</param>
    /// <param name="extraSettings">--Key=Value arguments added after the base settings.</param>
    /// <param name="baseSettings">Instead of <see cref="FastSettings"/>.</param>
    public static async Task<LocalCluster> StartAsync(RedisServer redis, PostgresServer postgres, string directory, int silos,
        IEnumerable<string>? extraSettings = null, IEnumerable<string>? baseSettings = null)
    {
        var name = $"c{Guid.NewGuid():N}"[..16];
        var connectionString = await postgres.CreateDatabaseAsync(name);
        var clusterDirectory = Path.Combine(directory, name);
        Directory.CreateDirectory(clusterDirectory);
        List<string> settings =
        [
            $"--Orchestrator:ClusterId={name}",
            $"--Orchestrator:ServiceId={name}",
            $"--Orchestrator:Redis={redis.ConnectionString}",
            $"--Orchestrator:Postgres={connectionString}",
            .. baseSettings ?? FastSettings,
            .. extraSettings ?? [],
        ];
        var cluster = new LocalCluster(clusterDirectory, redis, name, connectionString, settings);
        for (var i = 0; i < silos; i++)
        {
            cluster.StartSilo();
        }
        return cluster;
    }

    /// <summary>Starts one more silo (on free ports unless given).</summary>
    public SiloProcess StartSilo((int Http, int Silo, int Gateway)? ports = null)
    {
        var n = Interlocked.Increment(ref _siloCount);
        var silo = SiloProcess.Start(Settings, Path.Combine(_directory, $"silo-{n}.log"), ports);
        lock (_silos)
        {
            _silos.Add(silo);
        }
        return silo;
    }

    /// <summary>Waits until every running silo serves the API.</summary>
    public Task WaitReadyAsync(TimeSpan? timeout = null) =>
        Task.WhenAll(Silos.ToList().Select(s => s.WaitReadyAsync(timeout ?? TimeSpan.FromSeconds(60))));

    /// <summary>kill -9 of a silo; it stays in the cluster's records only for its logs.</summary>
    public async Task KillAsync(SiloProcess silo)
    {
        await silo.KillAsync();
        lock (_silos)
        {
            _silos.Remove(silo);
            _stopped.Add(silo);
        }
    }

    /// <summary>An Orleans client of this cluster (cluster profile: gateways from Redis),
    /// connected on first use, as the admin of the first silo's kubeconfig.</summary>
    public async Task<IClusterClient> ClientAsync()
    {
        if (_clientHost is null)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Orchestrator:Profile"] = "cluster",
                ["Orchestrator:ClusterId"] = Name,
                ["Orchestrator:ServiceId"] = Name,
                ["Orchestrator:Redis"] = _redis.ConnectionString,
                ["Orchestrator:GatewayListRefreshPeriod"] = "00:00:01",
                ["Orchestrator:ConnectTimeout"] = "00:00:30",
                ["Orchestrator:Kubeconfig"] = Silos[0].KubeconfigPath,
            });
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.AddOrchestratorClient();
            var host = builder.Build();
            await host.StartAsync();
            _clientHost = host;
        }
        return _clientHost.Services.GetRequiredService<IClusterClient>();
    }

    /// <summary>The running silo that hosts <paramref name="grain"/>'s activation, or null when it
    /// is not active anywhere (or on a silo that is gone).</summary>
    public async Task<SiloProcess?> HostOfAsync(IAddressable grain)
    {
        var client = await ClientAsync();
        var address = await client.GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
        return address is null ? null : Silos.FirstOrDefault(s => s.Is(address));
    }

    /// <summary>The last lines of every silo's log, for failure messages.</summary>
    public string Logs(int lines = 30)
    {
        var text = new StringBuilder();
        List<SiloProcess> all;
        lock (_silos)
        {
            all = [.. _silos, .. _stopped];
        }
        foreach (var silo in all)
        {
            text.Append("\n----- ").Append(silo.Name).Append(silo.Process.HasExited ? " (exited)" : "").Append(" -----\n");
            text.Append(silo.Process.Tail(lines));
        }
        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        if (_clientHost is not null)
        {
            try
            {
                await _clientHost.StopAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
            {
            }
            _clientHost.Dispose();
        }
        List<SiloProcess> all;
        lock (_silos)
        {
            all = [.. _silos, .. _stopped];
        }
        await Task.WhenAll(all.Select(s => s.DisposeAsync().AsTask()));
    }
}
