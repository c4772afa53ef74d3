namespace Orchestrator.Grains.Allocation;

/// <summary>What an allocator stores: which owner holds which offset of its range.</summary>
public sealed class AllocationState
{
    public Dictionary<string, Allocation> Owners { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>One allocation: the offset in the range, its rendered value and when it was made
/// (the repair pass leaves young allocations alone: their owner may still be being created).</summary>
public sealed record Allocation(long Offset, string Value, DateTimeOffset At);
