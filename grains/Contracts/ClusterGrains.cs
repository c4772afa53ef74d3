using Orleans.Concurrency;
using Orchestrator.Model;

namespace Orchestrator.Grains;

/// <summary>
/// The scheduler: one activation cluster-wide (key "default"), which is the "one leader"
/// guarantee Kubernetes gets from leader election. It learns of work from hints and re-lists
/// periodically, so a lost hint only delays scheduling.
/// </summary>
[Alias("orch.ISchedulerGrain")]
public interface ISchedulerGrain : IGrainWithStringKey
{
    /// <summary>A pod was created or changed in a way the scheduler cares about: it needs a
    /// node, or it is bound and uses its node's resources.</summary>
    [Alias("PodChanged"), OneWay]
    Task PodChangedAsync(Pod pod);

    /// <summary>A bound pod finished or was deleted: its node has room again.</summary>
    [Alias("PodReleased"), OneWay]
    Task PodReleasedAsync(string podKey);

    /// <summary>A node was added, changed or removed (null object).</summary>
    [Alias("NodeChanged"), OneWay]
    Task NodeChangedAsync(string nodeName, Node? node);

    [Alias("GetStats")]
    Task<SchedulerStats> GetStatsAsync();
}

[GenerateSerializer, Immutable, Alias("orch.SchedulerStats")]
public sealed record SchedulerStats
{
    [Id(0)] public long Bound { get; init; }
    [Id(1)] public int Pending { get; init; }
    [Id(2)] public int Unschedulable { get; init; }
    [Id(3)] public int Nodes { get; init; }
}

/// <summary>Hands out ClusterIPs from the service CIDR (key "default").</summary>
[Alias("orch.IServiceIpAllocatorGrain")]
public interface IServiceIpAllocatorGrain : IGrainWithStringKey
{
    /// <summary>Allocates <paramref name="requested"/> or, when null, a free address, for the
    /// service <paramref name="owner"/> ("namespace/name"). Idempotent per owner.</summary>
    [Alias("Allocate")]
    Task<AllocationResult> AllocateAsync(string owner, string? requested);

    [Alias("Release")]
    Task ReleaseAsync(string owner);
}

/// <summary>Hands out NodePorts from the node port range (key "default").</summary>
[Alias("orch.INodePortAllocatorGrain")]
public interface INodePortAllocatorGrain : IGrainWithStringKey
{
    /// <summary>Sets the node ports of the service <paramref name="owner"/> to one per entry: the
    /// requested port, or (null) a free one, reusing the owner's own ports first. Ports the owner
    /// held and no longer asks for are released. All or nothing.</summary>
    [Alias("Allocate")]
    Task<NodePortAllocation> AllocateAsync(string owner, IReadOnlyList<int?> ports);

    [Alias("Release")]
    Task ReleaseAsync(string owner);
}

/// <summary>The ports, or the index of the entry that could not be served and why.</summary>
[GenerateSerializer, Immutable, Alias("orch.NodePortAllocation")]
public sealed record NodePortAllocation(
    [property: Id(0)] IReadOnlyList<int>? Ports,
    [property: Id(1)] int? FailedIndex,
    [property: Id(2)] string? Error);

/// <summary>Hands out pod CIDRs to nodes (key "default").</summary>
[Alias("orch.IPodCidrAllocatorGrain")]
public interface IPodCidrAllocatorGrain : IGrainWithStringKey
{
    /// <summary>The node's pod CIDR, allocating one on first call; null when the cluster CIDR is full.</summary>
    [Alias("Allocate")]
    Task<string?> AllocateAsync(string nodeName);

    [Alias("Release")]
    Task ReleaseAsync(string nodeName);
}

/// <summary>An allocated value, or why none could be allocated (worded for a field error).</summary>
[GenerateSerializer, Immutable, Alias("orch.AllocationResult")]
public sealed record AllocationResult([property: Id(0)] string? Value, [property: Id(1)] string? Error);
