using Orchestrator.Model;

namespace Orchestrator.Grains.Scheduling;

/// <summary>
/// The scheduler's view of one node: what the filters and scores read, computed once per node
/// change (quantities parsed, readiness looked up) because they are read for every pending pod,
/// and what is already placed on it.
/// </summary>
internal sealed class NodeInfo
{
    public NodeInfo(Node node)
    {
        Node = node;
    }

    private Node _node = null!;

    public Node Node
    {
        get => _node;
        set
        {
            _node = value;
            AllocatableMilliCpu = value.Allocatable(ResourceName.Cpu)?.MilliValue ?? 0;
            AllocatableMemory = value.Allocatable(ResourceName.Memory)?.WholeValue ?? 0;
            AllocatablePods = value.Allocatable(ResourceName.Pods)?.WholeValue ?? 110;
            Ready = value.IsReady();
            Unschedulable = value.Spec.Unschedulable == true;
            Taints = value.Spec.Taints?.Where(t => t.Effect is TaintEffect.NoSchedule or TaintEffect.NoExecute).ToArray() ?? [];
            Labels = value.Metadata.Labels;
        }
    }

    public long AllocatableMilliCpu { get; private set; }

    public long AllocatableMemory { get; private set; }

    public long AllocatablePods { get; private set; }

    public bool Ready { get; private set; }

    public bool Unschedulable { get; private set; }

    /// <summary>Only the taints that keep pods off (NoSchedule, NoExecute).</summary>
    public Taint[] Taints { get; private set; } = [];

    public IReadOnlyDictionary<string, string>? Labels { get; private set; }

    public long RequestedMilliCpu { get; private set; }

    public long RequestedMemory { get; private set; }

    /// <summary>Requests with Kubernetes' non-zero defaults for pods that request nothing, used
    /// only for scoring so that BestEffort pods still spread.</summary>
    public long ScoringMilliCpu { get; private set; }

    public long ScoringMemory { get; private set; }

    public int PodCount { get; private set; }

    /// <summary>Pods per controller uid, for spreading replicas of one owner.</summary>
    public Dictionary<string, int> PodsByOwner { get; } = new(StringComparer.Ordinal);

    public void Add(PodRequest r, int sign)
    {
        RequestedMilliCpu += sign * r.MilliCpu;
        RequestedMemory += sign * r.Memory;
        ScoringMilliCpu += sign * r.ScoringMilliCpu;
        ScoringMemory += sign * r.ScoringMemory;
        PodCount += sign;
        if (r.OwnerUid is { } owner)
        {
            var n = PodsByOwner.GetValueOrDefault(owner) + sign;
            if (n <= 0)
            {
                PodsByOwner.Remove(owner);
            }
            else
            {
                PodsByOwner[owner] = n;
            }
        }
    }
}

/// <summary>What a pod asks of a node.</summary>
internal sealed record PodRequest(long MilliCpu, long Memory, long ScoringMilliCpu, long ScoringMemory, string? OwnerUid)
{
    /// <summary>Kubernetes' DefaultMilliCPURequest and DefaultMemoryRequest for scoring.</summary>
    private const long DefaultMilliCpu = 100;
    private const long DefaultMemory = 200L * 1024 * 1024;

    public static PodRequest Of(Pod pod)
    {
        long cpu = 0, mem = 0, scoringCpu = 0, scoringMem = 0;
        foreach (var c in pod.Spec.Containers)
        {
            var req = c.Resources?.Requests;
            var cCpu = req is not null && req.TryGetValue(ResourceName.Cpu, out var q) ? q.MilliValue : 0;
            var cMem = req is not null && req.TryGetValue(ResourceName.Memory, out var m) ? m.WholeValue : 0;
            cpu += cCpu;
            mem += cMem;
            scoringCpu += cCpu == 0 ? DefaultMilliCpu : cCpu;
            scoringMem += cMem == 0 ? DefaultMemory : cMem;
        }
        return new PodRequest(cpu, mem, scoringCpu, scoringMem, pod.Metadata.ControllerRef?.Uid);
    }
}
