namespace Orchestrator.Grains;

/// <summary>Keys of the cluster-wide singleton grains.</summary>
public static class SchedulerGrainKeys
{
    public const string Default = "default";
}
