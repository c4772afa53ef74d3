using System.Runtime.Versioning;
using Orchestrator.Tests.Cluster;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;
using Orchestrator.Tests.MultiNode;

namespace Orchestrator.Tests.Faults;

/// <summary>
/// The cluster profile end to end: Redis, PostgreSQL and three silo processes (as the cluster
/// tests run them), and three nodes of real containers (the multi-node harness) whose agents are
/// cluster-profile clients: they read the gateway list from Redis and reach Redis and every
/// silo's gateway through their namespace's loopback. Everything is stopped by PID and removed
/// at the end.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class ClusterFaultsFixture : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("orch-faults");
    private ContainerdInstance? _containerd;

    public RedisServer Redis { get; private set; } = null!;

    public PostgresServer Postgres { get; private set; } = null!;

    public LocalCluster ControlPlane { get; private set; } = null!;

    public MultiNodeCluster Cluster { get; private set; } = null!;

    /// <summary>The API of a silo that is running.</summary>
    public ApiClient Api => ClusterTestSupport.Api(ControlPlane.Silos[0]);

    public async Task InitializeAsync()
    {
        if (!HostCommand.IsRoot)
        {
            throw new InvalidOperationException("the fault tests run real containers in network namespaces and need root (CI runs them as root)");
        }
        var redis = RedisServer.StartAsync(_directory.Path);
        var postgres = PostgresServer.StartAsync(_directory.Path);
        var containerd = ContainerdInstance.StartAsync(Path.Combine(_directory.Path, "containerd"), TimeSpan.FromSeconds(20));
        Redis = await redis;
        Postgres = await postgres;
        _containerd = await containerd;
        ControlPlane = await LocalCluster.StartAsync(Redis, Postgres, _directory.Path, 3,
            [$"--Orchestrator:ClusterCidr=10.{200 + Random.Shared.Next(50)}.0.0/16"]);
        await ControlPlane.WaitReadyAsync();
        var client = await ControlPlane.ClientAsync();
        var silos = ControlPlane.Silos;
        Cluster = await MultiNodeCluster.StartAsync(new MultiNodeSettings
        {
            Nodes = 3,
            Containerd = _containerd,
            Grains = client,
            GatewayPort = silos[0].GatewayPort,
            ClusterId = ControlPlane.Name,
            Join = new AgentJoin(string.Join(",", silos.Select(s => $"https://127.0.0.1:{s.HttpPort}")), silos[0].NodeTokenPath),
            WorkDirectory = _directory.Path,
            RelayPorts = [Redis.Port, .. silos.Select(s => s.GatewayPort)],
            AgentArguments =
            [
                "--Orchestrator:Profile=cluster",
                $"--Orchestrator:Redis={Redis.ConnectionString}",
                $"--Orchestrator:ServiceId={ControlPlane.Name}",
                "--Orchestrator:GatewayListRefreshPeriod=00:00:01",
            ],
        });
    }

    /// <summary>Starts a silo killed by a test again, on its old ports (the nodes' relays for its
    /// gateway port are still there), and waits until it serves the API.</summary>
    public async Task RestartSiloAsync(SiloProcess killed)
    {
        var silo = ControlPlane.StartSilo((killed.HttpPort, killed.SiloPort, killed.GatewayPort));
        await silo.WaitReadyAsync(TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
        if (ControlPlane is not null)
        {
            await ControlPlane.DisposeAsync();
        }
        if (_containerd is not null)
        {
            await _containerd.DisposeAsync();
        }
        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
        if (Postgres is not null)
        {
            await Postgres.DisposeAsync();
        }
        foreach (var mountPoint in ContainerdInstance.MountsUnder(_directory.Path))
        {
            await HostCommand.RunAsync("umount", ["--lazy", mountPoint]);
        }
        _directory.Dispose();
    }
}

/// <summary>Fault tests of the control plane. Not run in parallel with other collections: failure
/// detection with one-second probes and node leases must not compete for two cores.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterFaultsCollection : ICollectionFixture<ClusterFaultsFixture>
{
    public const string Name = "faults: control plane";
}
