using System.Runtime.Versioning;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.MultiNode;

/// <summary>
/// A control plane, a containerd of its own and a <see cref="MultiNodeCluster"/> of three nodes
/// running real containers, shared by the tests of the "multi-node" collection. Everything is
/// removed at the end: namespaces (network and containerd), containers, mounts, directories.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class MultiNodeFixture : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("orch-mn");
    private ContainerdInstance? _containerd;
    private ControlPlaneFixture? _controlPlane;

    public ControlPlaneFixture ControlPlane => _controlPlane!;

    public ApiClient Api => ControlPlane.Api;

    public MultiNodeCluster Cluster { get; private set; } = null!;

    public ContainerdInstance Containerd => _containerd!;

    public async Task InitializeAsync()
    {
        if (!HostCommand.IsRoot)
        {
            throw new InvalidOperationException("the multi-node tests run real containers in network namespaces and need root (CI runs them as root)");
        }
        _containerd = await ContainerdInstance.StartAsync(Path.Combine(_directory.Path, "containerd"), TimeSpan.FromSeconds(20));
        // A cluster CIDR of its own; the nodes' namespaces keep it apart from other runs anyway.
        _controlPlane = new ControlPlaneFixture([$"--Orchestrator:ClusterCidr=10.{200 + Random.Shared.Next(50)}.0.0/16"]);
        await _controlPlane.InitializeAsync();
        Cluster = await MultiNodeCluster.StartAsync(new MultiNodeSettings
        {
            Nodes = 3,
            Containerd = _containerd,
            Grains = _controlPlane.Grains,
            GatewayPort = _controlPlane.GatewayPort,
            ClusterId = _controlPlane.ClusterId,
            Join = _controlPlane.Join,
            WorkDirectory = _directory.Path,
        });
    }

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
        if (_controlPlane is not null)
        {
            await _controlPlane.DisposeAsync();
        }
        if (_containerd is not null)
        {
            await _containerd.DisposeAsync();
        }
        foreach (var mountPoint in ContainerdInstance.MountsUnder(_directory.Path))
        {
            await HostCommand.RunAsync("umount", ["--lazy", mountPoint]);
        }
        _directory.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class MultiNodeCollection : ICollectionFixture<MultiNodeFixture>
{
    public const string Name = "multi-node";
}
