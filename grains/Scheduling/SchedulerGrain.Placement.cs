using Orchestrator.Model;

namespace Orchestrator.Grains.Scheduling;

/// <summary>Filters and scores, as Kubernetes' default plugins do (NodeUnschedulable,
/// TaintToleration, NodeAffinity by nodeSelector, NodeResourcesFit; LeastAllocated and
/// spreading of one owner's replicas).</summary>
public sealed partial class SchedulerGrain
{
    internal const string NotReady = "node(s) not ready";
    internal const string Unschedulable = "node(s) were unschedulable";
    internal const string SelectorMismatch = "node(s) didn't match Pod's node affinity/selector";
    internal const string InsufficientCpu = "Insufficient cpu";
    internal const string InsufficientMemory = "Insufficient memory";
    internal const string TooManyPods = "Too many pods";

    /// <summary>Spreading weighs twice as much as balance, as PodTopologySpread (weight 2)
    /// against NodeResourcesFit (weight 1) in Kubernetes' default profile.</summary>
    private const double SpreadWeight = 2;

    internal readonly record struct Decision(string? Node, string? Message);

    /// <summary>Kubernetes' percentageOfNodesToScore: in a large cluster, stop looking once this
    /// many feasible nodes were found (at least 100, and 50% less 1% per 125 nodes, floor 5%),
    /// starting where the last search stopped so that every node gets its turn.</summary>
    private int FeasibleNodesToFind()
    {
        var n = _nodeOrder.Count;
        if (n <= 100)
        {
            return n;
        }
        var percent = Math.Max(5, 50 - n / 125);
        return Math.Max(100, n * percent / 100);
    }

    private Decision Decide(Pod pod, PodRequest request)
    {
        if (_nodes.Count == 0)
        {
            return new Decision(null, "no nodes available to schedule pods");
        }
        RefreshNodeOrder();
        var reasons = new Dictionary<string, int>(StringComparer.Ordinal);
        var wanted = FeasibleNodesToFind();
        var feasible = 0;
        NodeInfo? best = null;
        var bestScore = double.MinValue;
        var ties = 0;
        var count = _nodeOrder.Count;
        for (var i = 0; i < count && feasible < wanted; i++)
        {
            var info = _nodeOrder[(_nextStart + i) % count];
            if (Filter(pod, request, info, reasons))
            {
                continue;
            }
            feasible++;
            var score = Score(request, info);
            if (score > bestScore)
            {
                best = info;
                bestScore = score;
                ties = 1;
            }
            else if (score == bestScore && Random.Shared.Next(++ties) == 0)
            {
                // Reservoir sampling among equally good nodes, as Kubernetes' selectHost does.
                best = info;
            }
            if (feasible == wanted)
            {
                _nextStart = (_nextStart + i + 1) % count;
            }
        }
        if (best is not null)
        {
            return new Decision(best.Node.Metadata.Name, null);
        }
        var parts = reasons.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Value} {r.Key}");
        return new Decision(null, $"0/{_nodes.Count} nodes are available: {string.Join(", ", parts)}");
    }

    /// <summary>True when the node is filtered out; the reasons (one filter's worth per node,
    /// as Kubernetes stops at the first failing plugin) are counted.</summary>
    private static bool Filter(Pod pod, PodRequest request, NodeInfo info, Dictionary<string, int> reasons)
    {
        if (!info.Ready)
        {
            Count(reasons, NotReady);
            return true;
        }
        if (info.Unschedulable)
        {
            Count(reasons, Unschedulable);
            return true;
        }
        foreach (var t in info.Taints)
        {
            if (!Tolerated(pod, t))
            {
                Count(reasons, $"node(s) had untolerated taint {{{t.Key}: {t.Value}}}");
                return true;
            }
        }
        if (pod.Spec.NodeSelector is { Count: > 0 } selector)
        {
            var labels = info.Labels;
            foreach (var (k, v) in selector)
            {
                if (labels is null || !labels.TryGetValue(k, out var actual) || actual != v)
                {
                    Count(reasons, SelectorMismatch);
                    return true;
                }
            }
        }
        var failed = false;
        if (info.PodCount + 1 > info.AllocatablePods)
        {
            Count(reasons, TooManyPods);
            failed = true;
        }
        if (request.MilliCpu > 0 && info.RequestedMilliCpu + request.MilliCpu > info.AllocatableMilliCpu)
        {
            Count(reasons, InsufficientCpu);
            failed = true;
        }
        if (request.Memory > 0 && info.RequestedMemory + request.Memory > info.AllocatableMemory)
        {
            Count(reasons, InsufficientMemory);
            failed = true;
        }
        return failed;
    }

    private static bool Tolerated(Pod pod, Taint taint)
    {
        foreach (var t in pod.Spec.Tolerations ?? [])
        {
            if (t.Tolerates(taint))
            {
                return true;
            }
        }
        return false;
    }

    private static void Count(Dictionary<string, int> reasons, string reason) =>
        reasons[reason] = reasons.GetValueOrDefault(reason) + 1;

    /// <summary>LeastAllocated (0-100: the share of cpu and memory left after placing the pod,
    /// averaged) plus a spreading score (100 for a node without replicas of the pod's owner,
    /// falling as it gets more).</summary>
    private static double Score(PodRequest request, NodeInfo info)
    {
        var cpu = Free(info.AllocatableMilliCpu, info.ScoringMilliCpu + request.ScoringMilliCpu);
        var mem = Free(info.AllocatableMemory, info.ScoringMemory + request.ScoringMemory);
        var least = (cpu + mem) / 2;
        var spread = request.OwnerUid is { } owner ? 100.0 / (1 + info.PodsByOwner.GetValueOrDefault(owner)) : 100.0;
        return least + SpreadWeight * spread;
    }

    private static double Free(long allocatable, long requested) =>
        allocatable <= 0 ? 0 : Math.Max(0, (allocatable - requested) * 100.0 / allocatable);
}
