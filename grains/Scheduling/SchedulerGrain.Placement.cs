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

    private Decision Decide(Pod pod, PodRequest request)
    {
        if (_nodes.Count == 0)
        {
            return new Decision(null, "no nodes available to schedule pods");
        }
        var reasons = new Dictionary<string, int>(StringComparer.Ordinal);
        string? best = null;
        var bestScore = double.MinValue;
        var ties = 0;
        foreach (var (name, info) in _nodes)
        {
            var failed = Filter(pod, request, info, reasons);
            if (failed)
            {
                continue;
            }
            var score = Score(request, info);
            if (score > bestScore)
            {
                best = name;
                bestScore = score;
                ties = 1;
            }
            else if (score == bestScore && Random.Shared.Next(++ties) == 0)
            {
                // Reservoir sampling among equally good nodes, as Kubernetes' selectHost does.
                best = name;
            }
        }
        if (best is not null)
        {
            return new Decision(best, null);
        }
        var parts = reasons.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Value} {r.Key}");
        return new Decision(null, $"0/{_nodes.Count} nodes are available: {string.Join(", ", parts)}");
    }

    /// <summary>True when the node is filtered out; the reasons (one filter's worth per node,
    /// as Kubernetes stops at the first failing plugin) are counted.</summary>
    private static bool Filter(Pod pod, PodRequest request, NodeInfo info, Dictionary<string, int> reasons)
    {
        var node = info.Node;
        if (!node.IsReady())
        {
            Count(reasons, NotReady);
            return true;
        }
        if (node.Spec.Unschedulable == true)
        {
            Count(reasons, Unschedulable);
            return true;
        }
        if (node.Spec.Taints is { Count: > 0 } taints)
        {
            foreach (var t in taints)
            {
                if (t.Effect is TaintEffect.NoSchedule or TaintEffect.NoExecute && !(pod.Spec.Tolerations ?? []).Any(tol => tol.Tolerates(t)))
                {
                    Count(reasons, $"node(s) had untolerated taint {{{t.Key}: {t.Value}}}");
                    return true;
                }
            }
        }
        if (pod.Spec.NodeSelector is { Count: > 0 } selector)
        {
            var labels = node.Metadata.Labels;
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
