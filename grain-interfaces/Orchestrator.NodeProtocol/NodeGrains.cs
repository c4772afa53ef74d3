using Orchestrator.Model;

namespace Orchestrator.NodeProtocol;

/// <summary>
/// What a node agent calls on its node's grain (Kubernetes' node registration and lease) and what
/// the control plane reads through it (container logs). Not in the client package.
/// </summary>
[Alias("orch.INodeLeaseGrain")]
public interface INodeLeaseGrain : IGrainWithStringKey
{
    /// <summary>Creates or refreshes the node from its agent's report and allocates its pod CIDR.</summary>
    [Alias("Register")]
    Task<Node> RegisterAsync(NodeRegistration registration);

    /// <summary>Renews the node's lease and (re)attaches the agent's endpoint, which the grain
    /// keeps in memory only. Returns false when the node is not registered (it was deleted): the
    /// agent must register again.</summary>
    [Alias("Heartbeat")]
    Task<bool> HeartbeatAsync(string bootId, INodeAgentEndpoint? endpoint);

    /// <summary>Reads a container log through the node's agent; 503 when it is not connected.</summary>
    [Alias("ReadLog")]
    Task<LogChunk> ReadLogAsync(LogRequest request);
}

/// <summary>What a node agent calls on a pod's grain: its status reports (Kubernetes' kubelet
/// status manager) and the end of a graceful termination.</summary>
[Alias("orch.IPodStatusReportGrain")]
public interface IPodStatusReportGrain : IGrainWithStringKey
{
    /// <summary>The node agent's status report. Ignored (returns null) unless the pod is bound to
    /// <paramref name="nodeName"/> with this uid: a node never writes over a pod it no longer owns.</summary>
    [Alias("ReportStatus")]
    Task<Pod?> ReportStatusAsync(string nodeName, string uid, PodStatus status);

    /// <summary>The node agent has stopped every container of a terminating pod: remove it.</summary>
    [Alias("FinishTermination")]
    Task FinishTerminationAsync(string nodeName, string uid);

    /// <summary>A ServiceAccount token bound to the pod (and its node) for the agent to project
    /// into the pod's containers, as the kubelet asks TokenRequest for one; null when the pod
    /// opts out (automountServiceAccountToken false on the pod, or on its ServiceAccount when the
    /// pod does not say). 403 unless the pod is bound to <paramref name="nodeName"/> with this uid.</summary>
    [Alias("RequestServiceAccountToken")]
    Task<PodToken?> RequestServiceAccountTokenAsync(string nodeName, string uid);
}

/// <summary>What a pod's containers find under /var/run/secrets/kubernetes.io/serviceaccount.</summary>
[GenerateSerializer, Immutable, Alias("orch.PodToken")]
public sealed record PodToken
{
    [Id(0)] public string Token { get; init; } = "";
    [Id(1)] public DateTimeOffset IssuedAt { get; init; }
    [Id(2)] public DateTimeOffset ExpirationTimestamp { get; init; }
    [Id(3)] public string CaCertificatePem { get; init; } = "";
    [Id(4)] public string Namespace { get; init; } = "";
}

/// <summary>What a node agent reports about its machine when it starts.</summary>
[GenerateSerializer, Immutable, Alias("orch.NodeRegistration")]
public sealed record NodeRegistration
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public IReadOnlyDictionary<string, string>? Labels { get; init; }
    [Id(2)] public IReadOnlyList<Taint>? Taints { get; init; }
    [Id(3)] public IReadOnlyDictionary<string, Quantity> Capacity { get; init; } = new Dictionary<string, Quantity>();
    [Id(4)] public IReadOnlyDictionary<string, Quantity> Allocatable { get; init; } = new Dictionary<string, Quantity>();
    [Id(5)] public IReadOnlyList<NodeAddress>? Addresses { get; init; }
    [Id(6)] public NodeSystemInfo? NodeInfo { get; init; }
}
