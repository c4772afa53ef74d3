using Microsoft.Extensions.Options;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.Grains.Allocation;

/// <summary>What the node port allocator stores: the ports each service holds.</summary>
public sealed class NodePortState
{
    public Dictionary<string, List<int>> Owners { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Hands out NodePorts; a singleton grain, so no port is ever given twice. On activation it
/// repairs itself against the stored services, like the ClusterIP allocator.
/// </summary>
[GrainType("node-port-allocator")]
public sealed class NodePortAllocatorGrain(
    [PersistentState("allocations", "resources")] IPersistentState<NodePortState> state,
    IOptions<ControlPlaneOptions> options)
    : Grain, INodePortAllocatorGrain
{
    private readonly (int First, int Last) _range = options.Value.NodePorts;
    private readonly Dictionary<int, string> _byPort = [];

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var services = await GrainFactory.GetGrain<IResourceIndexGrain<Service>>(ResourceTypes.Service.Plural).ListAsync(ResourceQuery.All);
        var live = services.Items.ToDictionary(s => s.Key(), s => (s.Spec.Ports ?? []).Select(p => p.NodePort).OfType<int>().ToList());
        var changed = false;
        foreach (var owner in state.State.Owners.Keys.Where(o => !live.ContainsKey(o)).ToList())
        {
            state.State.Owners.Remove(owner);
            changed = true;
        }
        foreach (var (owner, ports) in live.Where(l => l.Value.Count > 0 && !state.State.Owners.ContainsKey(l.Key)))
        {
            state.State.Owners[owner] = ports;
            changed = true;
        }
        foreach (var (owner, ports) in state.State.Owners)
        {
            foreach (var p in ports)
            {
                _byPort[p] = owner;
            }
        }
        if (changed)
        {
            await state.WriteStateAsync(cancellationToken);
        }
    }

    public async Task<NodePortAllocation> AllocateAsync(string owner, IReadOnlyList<int?> ports)
    {
        var held = state.State.Owners.TryGetValue(owner, out var h) ? h : [];
        var result = new int[ports.Count];
        var taken = new HashSet<int>();
        // Requested ports first: they must be in range and free (or already this owner's).
        for (var i = 0; i < ports.Count; i++)
        {
            if (ports[i] is not { } p)
            {
                continue;
            }
            if (p < _range.First || p > _range.Last)
            {
                return new NodePortAllocation(null, i, $"provided port is not in the valid range. The range of valid ports is {_range.First}-{_range.Last}");
            }
            if ((_byPort.TryGetValue(p, out var other) && other != owner) || !taken.Add(p))
            {
                return new NodePortAllocation(null, i, "provided port is already allocated");
            }
            result[i] = p;
        }
        // Then the rest: the owner's own spare ports, then random free ones.
        var spare = new Queue<int>(held.Where(p => !taken.Contains(p)));
        for (var i = 0; i < ports.Count; i++)
        {
            if (ports[i] is not null)
            {
                continue;
            }
            if (spare.TryDequeue(out var reuse))
            {
                result[i] = reuse;
                taken.Add(reuse);
                continue;
            }
            if (PickFree(taken) is not { } free)
            {
                return new NodePortAllocation(null, i, $"no free ports are left in the node port range {_range.First}-{_range.Last}");
            }
            result[i] = free;
            taken.Add(free);
        }
        if (held.Count == result.Length && held.Order().SequenceEqual(result.Order()))
        {
            return new NodePortAllocation(result, null, null);
        }
        foreach (var p in held)
        {
            _byPort.Remove(p);
        }
        foreach (var p in result)
        {
            _byPort[p] = owner;
        }
        var previous = held;
        if (result.Length > 0)
        {
            state.State.Owners[owner] = [.. result];
        }
        else
        {
            state.State.Owners.Remove(owner);
        }
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            foreach (var p in result)
            {
                _byPort.Remove(p);
            }
            foreach (var p in previous)
            {
                _byPort[p] = owner;
            }
            state.State.Owners[owner] = previous;
            throw;
        }
        return new NodePortAllocation(result, null, null);
    }

    public async Task ReleaseAsync(string owner)
    {
        if (state.State.Owners.Remove(owner, out var ports))
        {
            foreach (var p in ports)
            {
                _byPort.Remove(p);
            }
            await state.WriteStateAsync();
        }
    }

    private int? PickFree(HashSet<int> taken)
    {
        var size = _range.Last - _range.First + 1;
        var start = Random.Shared.Next(size);
        for (var i = 0; i < size; i++)
        {
            var candidate = _range.First + (start + i) % size;
            if (!_byPort.ContainsKey(candidate) && !taken.Contains(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
