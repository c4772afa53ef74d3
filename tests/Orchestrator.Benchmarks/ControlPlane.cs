using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Client.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;
using Orleans.Configuration;
using Orleans.Runtime;

namespace Orchestrator.Benchmarks;

/// <summary>
/// The control plane a benchmark runs against: one silo of the embedded profile (SQLite), or
/// a cluster of silos of the cluster profile on a redis-server and a PostgreSQL of its own. Each
/// silo is its own process, so that its CPU and memory are its own; every silo serves the API,
/// and an Orleans client reaches the grains of all.
/// </summary>
public sealed class ControlPlane : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];

    private ControlPlane(IReadOnlyList<Silo> silos, IClusterClient client, string description)
    {
        Silos = silos;
        Client = client;
        Description = description;
    }

    /// <summary>One silo process of the control plane, an HTTP client of its API (as the admin)
    /// and the admin kubeconfig it wrote (for more clients).</summary>
    public sealed record Silo(string Name, int Pid, HttpClient Api, Func<object?, bool> Is, string KubeconfigPath);

    public IReadOnlyList<Silo> Silos { get; }

    public IClusterClient Client { get; }

    public string Description { get; }

    /// <summary>One silo, embedded profile (data in a directory of its own).</summary>
    public static async Task<ControlPlane> EmbeddedAsync(IEnumerable<string> settings, int connections)
    {
        var data = new TempDirectory("orch-bench");
        var runner = new SiloRunner(data.Path, [.. settings]);
        var http = Api(runner.HttpPort, runner.KubeconfigPath, connections);
        try
        {
            await runner.WaitReadyAsync(http);
        }
        catch
        {
            runner.Dispose();
            data.Dispose();
            throw;
        }
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        // The package's client: the gateway admits mutual TLS with the admin kubeconfig's certificate.
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Orchestrator:GatewayPort"] = runner.GatewayPort.ToString(CultureInfo.InvariantCulture),
            ["Orchestrator:ClusterId"] = runner.ClusterId,
            ["Orchestrator:Kubeconfig"] = runner.KubeconfigPath,
        });
        builder.AddOrchestratorClient();
        var host = builder.Build();
        await host.StartAsync();
        var silo = new Silo($"silo pid {runner.Pid}", runner.Pid, http, _ => true, runner.KubeconfigPath);
        var plane = new ControlPlane([silo], host.Services.GetRequiredService<IClusterClient>(), $"1 silo, embedded profile (pid {runner.Pid}, {SiloRunner.Configuration} build, log {runner.LogPath})");
        plane._owned.Add(new Disposer(async () =>
        {
            await host.StopAsync();
            host.Dispose();
            http.Dispose();
            runner.Dispose();
            data.Dispose();
        }));
        return plane;
    }

    /// <summary>N silos, cluster profile: Redis membership, PostgreSQL storage.</summary>
    public static async Task<ControlPlane> ClusterAsync(int silos, IEnumerable<string> settings, int connections)
    {
        var directory = new TempDirectory("orch-bench-cluster");
        var redis = await RedisServer.StartAsync(directory.Path);
        var postgres = await PostgresServer.StartAsync(directory.Path);
        var cluster = await LocalCluster.StartAsync(redis, postgres, directory.Path, silos, settings,
            ["--Logging:LogLevel:Default=Warning", "--Logging:Console:TimestampFormat=HH:mm:ss.fff "]);
        var disposer = new Disposer(async () =>
        {
            await cluster.DisposeAsync();
            await postgres.DisposeAsync();
            await redis.DisposeAsync();
            directory.Dispose();
        });
        try
        {
            await cluster.WaitReadyAsync();
            var list = cluster.Silos.Select(s => new Silo(s.Name, s.Process.Pid, Api(s.HttpPort, s.KubeconfigPath, connections), s.Is, s.KubeconfigPath)).ToList();
            var plane = new ControlPlane(list, await cluster.ClientAsync(),
                $"{silos} silos, cluster profile (Redis {redis.ConnectionString}, PostgreSQL 127.0.0.1:{postgres.Port}; logs in {directory.Path})");
            plane._owned.Add(new Disposer(() =>
            {
                foreach (var s in list)
                {
                    s.Api.Dispose();
                }
                return ValueTask.CompletedTask;
            }));
            plane._owned.Add(disposer);
            return plane;
        }
        catch
        {
            await disposer.DisposeAsync();
            throw;
        }
    }

    /// <summary>CPU time (user + system) each silo has used so far, from /proc.</summary>
    public IReadOnlyList<TimeSpan> CpuTimes() => [.. Silos.Select(s => CpuTime(s.Pid))];

    /// <summary>The CPU time of all silos together.</summary>
    public TimeSpan CpuTime() => CpuTimes().Aggregate(TimeSpan.Zero, (a, b) => a + b);

    /// <summary>Peak resident memory (VmHWM) of each silo, in MiB.</summary>
    public IReadOnlyList<double> PeakMemoryMiB() => [.. Silos.Select(s => StatusKiB(s.Pid, "VmHWM:") / 1024.0)];

    /// <summary>How many activations of grains whose type name contains <paramref name="grainType"/>
    /// each silo hosts (from Orleans' management grain).</summary>
    public async Task<IReadOnlyList<int>> ActivationsAsync(string grainType)
    {
        var stats = await Client.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
        return [.. Silos.Select(s => stats.Where(g => s.Is(g.SiloAddress) && g.GrainType.Contains(grainType, StringComparison.Ordinal)).Sum(g => g.ActivationCount))];
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }

    private static HttpClient Api(int port, string kubeconfig, int connections) =>
        Kubeconfig.AdminClient($"https://127.0.0.1:{port}", kubeconfig, TimeSpan.FromMinutes(5), connections);

    private static TimeSpan CpuTime(int pid)
    {
        // After the command name: state is field 3, so utime and stime (fields 14 and 15) are at 11 and 12.
        var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return TimeSpan.FromSeconds((long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0);
    }

    private static long StatusKiB(int pid, string field) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field, StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    private sealed class Disposer(Func<ValueTask> dispose) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => dispose();
    }
}
