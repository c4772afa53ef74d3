using Orchestrator.GrainInterfaces;

namespace Orchestrator.Grains.Index;

/// <summary>What an index keeps across restarts (the objects themselves are re-read from storage).</summary>
public sealed class IndexState
{
    /// <summary>Versions up to here may have been handed out; a restarted index starts above it,
    /// so resourceVersions never repeat.</summary>
    public long ReservedUpTo { get; set; }

    public List<SubscriptionRecord> Subscriptions { get; set; } = [];
}

public sealed record SubscriptionRecord(string Id, ResourceQuery Query, string Subscriber);
