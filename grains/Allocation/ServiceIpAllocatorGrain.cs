using System.Net;
using Microsoft.Extensions.Options;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.Grains.Allocation;

/// <summary>
/// Hands out ClusterIPs. A singleton grain, so two silos never hand out the same address. The
/// first address after the network is reserved, as Kubernetes reserves it for its API service.
/// On activation it repairs itself against the services that exist (Kubernetes' ClusterIP
/// repair controller): leaks from a crash between allocating and storing a service are freed,
/// and addresses of stored services are re-marked.
/// </summary>
[GrainType("service-ip-allocator")]
public sealed class ServiceIpAllocatorGrain(
    [PersistentState("allocations", "resources")] IPersistentState<AllocationState> state,
    IOptions<ControlPlaneOptions> options,
    TimeProvider time)
    : Grain, IServiceIpAllocatorGrain
{
    private static readonly TimeSpan RepairGrace = TimeSpan.FromMinutes(1);

    private readonly Cidr _range = Cidr.Parse(options.Value.ServiceCidr);
    private readonly HashSet<long> _used = [];

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var services = await GrainFactory.GetGrain<IResourceIndexGrain<Service>>(ResourceTypes.Service.Plural).ListAsync(ResourceQuery.All);
        var live = services.Items.ToDictionary(s => s.Key(), s => s.Spec.ClusterIP);
        var now = time.GetUtcNow();
        var changed = false;
        foreach (var (owner, a) in state.State.Owners.ToList())
        {
            if (!live.ContainsKey(owner) && now - a.At > RepairGrace)
            {
                state.State.Owners.Remove(owner);
                changed = true;
            }
        }
        foreach (var (owner, ip) in live)
        {
            if (ip is { Length: > 0 } && ip != "None" && !state.State.Owners.ContainsKey(owner) && IPAddress.TryParse(ip, out var addr) && _range.Contains(addr))
            {
                state.State.Owners[owner] = new Allocation((long)_range.OffsetOf(addr), ip, now);
                changed = true;
            }
        }
        foreach (var a in state.State.Owners.Values)
        {
            _used.Add(a.Offset);
        }
        if (changed)
        {
            await state.WriteStateAsync(cancellationToken);
        }
    }

    public async Task<AllocationResult> AllocateAsync(string owner, string? requested)
    {
        if (state.State.Owners.TryGetValue(owner, out var existing))
        {
            return new AllocationResult(existing.Value, null);
        }
        long offset;
        if (requested is not null)
        {
            if (!IPAddress.TryParse(requested, out var ip) || !_range.Contains(ip))
            {
                return new AllocationResult(null, $"provided IP is not in the valid range. The range of valid IPs is {_range}");
            }
            offset = (long)_range.OffsetOf(ip);
            if (offset == 0 || (ulong)offset == _range.Size - 1)
            {
                return new AllocationResult(null, $"provided IP is not in the valid range. The range of valid IPs is {_range}");
            }
            if (_used.Contains(offset))
            {
                return new AllocationResult(null, "provided IP is already allocated");
            }
        }
        else if (!TryPickFree(out offset))
        {
            return new AllocationResult(null, $"no free addresses are left in the service range {_range}");
        }
        var value = _range.At((ulong)offset).ToString();
        state.State.Owners[owner] = new Allocation(offset, value, time.GetUtcNow());
        _used.Add(offset);
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            state.State.Owners.Remove(owner);
            _used.Remove(offset);
            throw;
        }
        return new AllocationResult(value, null);
    }

    public async Task ReleaseAsync(string owner)
    {
        if (state.State.Owners.Remove(owner, out var a))
        {
            _used.Remove(a.Offset);
            await state.WriteStateAsync();
        }
    }

    /// <summary>A random free offset, probing linearly from a random start (as Kubernetes'
    /// allocator does) so that a released address is not handed out again at once.</summary>
    private bool TryPickFree(out long offset)
    {
        // Usable: 2 .. size-2 (network address, the reserved first address and broadcast excluded).
        var first = 2L;
        var count = (long)_range.Size - 3;
        if (count <= 0 || _used.Count >= count)
        {
            offset = 0;
            return false;
        }
        var start = Random.Shared.NextInt64(count);
        for (var i = 0L; i < count; i++)
        {
            var candidate = first + (start + i) % count;
            if (!_used.Contains(candidate))
            {
                offset = candidate;
                return true;
            }
        }
        offset = 0;
        return false;
    }
}
