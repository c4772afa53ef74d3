using Microsoft.Extensions.Options;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.Grains.Allocation;

/// <summary>Gives each node a pod CIDR carved from the cluster CIDR (Kubernetes' node IPAM).
/// A singleton grain, so no two nodes ever get the same range.</summary>
[GrainType("pod-cidr-allocator")]
public sealed class PodCidrAllocatorGrain(
    [PersistentState("allocations", "resources")] IPersistentState<AllocationState> state,
    IOptions<ControlPlaneOptions> options,
    TimeProvider time)
    : Grain, IPodCidrAllocatorGrain
{
    private readonly Cidr _cluster = Cidr.Parse(options.Value.ClusterCidr);
    private readonly int _mask = options.Value.NodeCidrMaskSize;

    public async Task<string?> AllocateAsync(string nodeName)
    {
        if (state.State.Owners.TryGetValue(nodeName, out var existing))
        {
            return existing.Value;
        }
        var used = state.State.Owners.Values.Select(a => a.Offset).ToHashSet();
        var subnets = 1L << (_mask - _cluster.PrefixLength);
        for (var i = 0L; i < subnets; i++)
        {
            if (used.Contains(i))
            {
                continue;
            }
            var cidr = _cluster.Subnet(_mask, (ulong)i).ToString();
            state.State.Owners[nodeName] = new Allocation(i, cidr, time.GetUtcNow());
            await state.WriteStateAsync();
            return cidr;
        }
        return null;
    }

    public async Task ReleaseAsync(string nodeName)
    {
        if (state.State.Owners.Remove(nodeName))
        {
            await state.WriteStateAsync();
        }
    }
}
