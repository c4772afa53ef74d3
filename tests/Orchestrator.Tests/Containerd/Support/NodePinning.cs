namespace Orchestrator.Tests.Containerd;

/// <summary>The label the test harnesses give their nodes, so that a pod can be pinned to one.</summary>
public static class NodePinning
{
    public const string Label = "orchestrator.test/node";
}
