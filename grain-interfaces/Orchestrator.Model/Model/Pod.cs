using System.Text.Json.Serialization;
using Orchestrator.Serialization;
using Orchestrator.Validation;

namespace Orchestrator.Model;

[GenerateSerializer, Immutable, Alias("orch.Pod")]
public sealed record Pod : IResource<Pod>
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public PodSpec Spec { get; init; } = new();
    [Id(4)] public PodStatus? Status { get; init; }

    public static ResourceType Type => ResourceTypes.Pod;

    public static Pod ApplyDefaults(Pod obj) => Defaults.Pod(obj);

    public static void Validate(Pod obj, Pod? old, FieldErrors errors) => Validator.Pod(obj, old, errors);

    public Pod WithMetadata(ObjectMeta metadata) => this with { Metadata = metadata };

    [JsonIgnore] public object? DesiredState => Spec;

    public Pod WithStatusOf(Pod other) => this with { Status = other.Status };
}

[GenerateSerializer, Immutable, Alias("orch.PodSpec")]
public sealed record PodSpec
{
    [Id(0), MergeByKey("name")] public IReadOnlyList<Container> Containers { get; init; } = [];
    [Id(1)] public string? RestartPolicy { get; init; }
    [Id(2)] public long? TerminationGracePeriodSeconds { get; init; }
    [Id(3)] public IReadOnlyDictionary<string, string>? NodeSelector { get; init; }
    [Id(4)] public string? NodeName { get; init; }
    [Id(5)] public IReadOnlyList<Toleration>? Tolerations { get; init; }
    [Id(6), MergeByKey("name"), RetainKeys] public IReadOnlyList<Volume>? Volumes { get; init; }
    /// <summary>The node's network namespace instead of the pod's own.</summary>
    [Id(7)] public bool? HostNetwork { get; init; }
    [Id(8)] public bool? HostPID { get; init; }
    [Id(9)] public bool? HostIPC { get; init; }
    [Id(10)] public PodSecurityContext? SecurityContext { get; init; }

    /// <summary>The ServiceAccount the pod runs as; "default" when not given.</summary>
    [Id(11)] public string? ServiceAccountName { get; init; }

    /// <summary>Deprecated alias of serviceAccountName: read when that is empty, and always written
    /// equal to it.</summary>
    /// <remarks>JSON <c>serviceAccount</c>, as Kubernetes names it.</remarks>
    [Id(12), JsonPropertyName("serviceAccount")] public string? DeprecatedServiceAccount { get; init; }

    /// <summary>False keeps the ServiceAccount token out of the containers; null leaves it to the
    /// ServiceAccount's own field (true when that is not set either).</summary>
    [Id(13)] public bool? AutomountServiceAccountToken { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.Container")]
public sealed record Container
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public string? Image { get; init; }
    [Id(2)] public string? ImagePullPolicy { get; init; }
    [Id(3)] public IReadOnlyList<string>? Command { get; init; }
    [Id(4)] public IReadOnlyList<string>? Args { get; init; }
    [Id(5)] public string? WorkingDir { get; init; }
    [Id(6), MergeByKey("name")] public IReadOnlyList<EnvVar>? Env { get; init; }
    [Id(7), MergeByKey("containerPort", MapKeys = ["containerPort", "protocol"])] public IReadOnlyList<ContainerPort>? Ports { get; init; }
    [Id(8)] public ResourceRequirements? Resources { get; init; }
    [Id(9)] public Probe? LivenessProbe { get; init; }
    [Id(10)] public Probe? ReadinessProbe { get; init; }
    [Id(11)] public Probe? StartupProbe { get; init; }
    [Id(12), MergeByKey("mountPath")] public IReadOnlyList<VolumeMount>? VolumeMounts { get; init; }
    [Id(13)] public SecurityContext? SecurityContext { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.EnvVar")]
public sealed record EnvVar
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public string? Value { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ContainerPort")]
public sealed record ContainerPort
{
    [Id(0)] public string? Name { get; init; }
    /// <summary>The port number the container listens on, on the pod's IP address.</summary>
    /// <remarks>JSON <c>containerPort</c>; C# forbids a member named like its type.</remarks>
    [Id(1), JsonPropertyName("containerPort")] public int Port { get; init; }
    [Id(2)] public string? Protocol { get; init; }
    [Id(3)] public int? HostPort { get; init; }
    [Id(4)] public string? HostIP { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ResourceRequirements")]
public sealed record ResourceRequirements
{
    [Id(0)] public IReadOnlyDictionary<string, Quantity>? Requests { get; init; }
    [Id(1)] public IReadOnlyDictionary<string, Quantity>? Limits { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.Probe")]
public sealed record Probe
{
    [Id(0)] public ExecAction? Exec { get; init; }
    [Id(1)] public HttpGetAction? HttpGet { get; init; }
    [Id(2)] public TcpSocketAction? TcpSocket { get; init; }
    [Id(3)] public int? InitialDelaySeconds { get; init; }
    [Id(4)] public int? TimeoutSeconds { get; init; }
    [Id(5)] public int? PeriodSeconds { get; init; }
    [Id(6)] public int? SuccessThreshold { get; init; }
    [Id(7)] public int? FailureThreshold { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ExecAction")]
public sealed record ExecAction
{
    [Id(0)] public IReadOnlyList<string>? Command { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.HttpGetAction")]
public sealed record HttpGetAction
{
    [Id(0)] public string? Path { get; init; }
    [Id(1)] public IntOrString Port { get; init; }
    [Id(2)] public string? Host { get; init; }
    [Id(3)] public string? Scheme { get; init; }
    [Id(4)] public IReadOnlyList<HttpHeader>? HttpHeaders { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.HttpHeader")]
public sealed record HttpHeader
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public string Value { get; init; } = "";
}

[GenerateSerializer, Immutable, Alias("orch.TcpSocketAction")]
public sealed record TcpSocketAction
{
    [Id(0)] public IntOrString Port { get; init; }
    [Id(1)] public string? Host { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.VolumeMount")]
public sealed record VolumeMount
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public string MountPath { get; init; } = "";
    [Id(2)] public bool? ReadOnly { get; init; }
    [Id(3)] public string? SubPath { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.Volume")]
public sealed record Volume
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public EmptyDirVolumeSource? EmptyDir { get; init; }
    [Id(2)] public HostPathVolumeSource? HostPath { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.EmptyDirVolumeSource")]
public sealed record EmptyDirVolumeSource
{
    /// <summary>"" (node disk) or "Memory" (tmpfs).</summary>
    [Id(0)] public string? Medium { get; init; }
    [Id(1)] public Quantity? SizeLimit { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.HostPathVolumeSource")]
public sealed record HostPathVolumeSource
{
    [Id(0)] public string Path { get; init; } = "";
    /// <summary>"", DirectoryOrCreate, Directory, FileOrCreate, File.</summary>
    [Id(1)] public string? Type { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.Toleration")]
public sealed record Toleration
{
    [Id(0)] public string? Key { get; init; }
    /// <summary>"Equal" (the default) or "Exists".</summary>
    [Id(1)] public string? Operator { get; init; }
    [Id(2)] public string? Value { get; init; }
    /// <summary>"" (all effects), NoSchedule, PreferNoSchedule or NoExecute.</summary>
    [Id(3)] public string? Effect { get; init; }
    [Id(4)] public long? TolerationSeconds { get; init; }

    /// <summary>Kubernetes' <c>Toleration.ToleratesTaint</c>.</summary>
    public bool Tolerates(Taint taint)
    {
        if (!string.IsNullOrEmpty(Effect) && Effect != taint.Effect)
        {
            return false;
        }
        if (!string.IsNullOrEmpty(Key) && Key != taint.Key)
        {
            return false;
        }
        return Operator switch
        {
            "Exists" => true,
            null or "" or "Equal" => (Value ?? "") == (taint.Value ?? ""),
            _ => false,
        };
    }
}

[GenerateSerializer, Immutable, Alias("orch.PodStatus")]
public sealed record PodStatus
{
    [Id(0)] public string? Phase { get; init; }
    [Id(1), MergeByKey("type")] public IReadOnlyList<Condition>? Conditions { get; init; }
    [Id(2)] public string? Message { get; init; }
    [Id(3)] public string? Reason { get; init; }
    [Id(4)] public string? HostIP { get; init; }
    [Id(5)] public string? PodIP { get; init; }
    [Id(6), MergeByKey("ip")] public IReadOnlyList<PodIP>? PodIPs { get; init; }
    [Id(7)] public DateTimeOffset? StartTime { get; init; }
    [Id(8)] public IReadOnlyList<ContainerStatus>? ContainerStatuses { get; init; }
    [Id(9)] public string? QosClass { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.PodIP")]
public sealed record PodIP
{
    [Id(0)] public string Ip { get; init; } = "";
}

[GenerateSerializer, Immutable, Alias("orch.ContainerStatus")]
public sealed record ContainerStatus
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public ContainerState? State { get; init; }
    [Id(2)] public ContainerState? LastState { get; init; }
    [Id(3)] public bool Ready { get; init; }
    [Id(4)] public int RestartCount { get; init; }
    [Id(5)] public string? Image { get; init; }
    [Id(6)] public string? ImageID { get; init; }
    [Id(7)] public string? ContainerID { get; init; }
    [Id(8)] public bool? Started { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ContainerState")]
public sealed record ContainerState
{
    [Id(0)] public ContainerStateWaiting? Waiting { get; init; }
    [Id(1)] public ContainerStateRunning? Running { get; init; }
    [Id(2)] public ContainerStateTerminated? Terminated { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ContainerStateWaiting")]
public sealed record ContainerStateWaiting
{
    [Id(0)] public string? Reason { get; init; }
    [Id(1)] public string? Message { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ContainerStateRunning")]
public sealed record ContainerStateRunning
{
    [Id(0)] public DateTimeOffset? StartedAt { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ContainerStateTerminated")]
public sealed record ContainerStateTerminated
{
    [Id(0)] public int ExitCode { get; init; }
    [Id(1)] public int? Signal { get; init; }
    [Id(2)] public string? Reason { get; init; }
    [Id(3)] public string? Message { get; init; }
    [Id(4)] public DateTimeOffset? StartedAt { get; init; }
    [Id(5)] public DateTimeOffset? FinishedAt { get; init; }
    [Id(6)] public string? ContainerID { get; init; }
}

public static class PodPhase
{
    public const string Pending = "Pending";
    public const string Running = "Running";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";
    public const string Unknown = "Unknown";
}

public static class PodConditionType
{
    public const string PodScheduled = "PodScheduled";
    public const string Initialized = "Initialized";
    public const string ContainersReady = "ContainersReady";
    public const string Ready = "Ready";
}

public static class RestartPolicy
{
    public const string Always = "Always";
    public const string OnFailure = "OnFailure";
    public const string Never = "Never";
}

public static class PodExtensions
{
    public static bool IsTerminal(this Pod pod) => pod.Status?.Phase is PodPhase.Succeeded or PodPhase.Failed;

    /// <summary>Kubernetes' <c>IsPodActive</c>: not finished and not being deleted.</summary>
    public static bool IsActive(this Pod pod) => !pod.IsTerminal() && pod.Metadata.DeletionTimestamp is null;

    public static bool IsReady(this Pod pod) => pod.Status?.Conditions?.FirstOrDefault(c => c.Type == PodConditionType.Ready)?.Status == ConditionStatus.True;

    /// <summary>Ready for at least <paramref name="minReadySeconds"/> (Kubernetes' <c>IsPodAvailable</c>).</summary>
    public static bool IsAvailable(this Pod pod, int minReadySeconds, DateTimeOffset now)
    {
        var ready = pod.Status?.Conditions?.FirstOrDefault(c => c.Type == PodConditionType.Ready);
        if (ready?.Status != ConditionStatus.True)
        {
            return false;
        }
        return minReadySeconds == 0 || (ready.LastTransitionTime is { } t && t.AddSeconds(minReadySeconds) <= now);
    }

    public static bool IsScheduled(this Pod pod) => !string.IsNullOrEmpty(pod.Spec.NodeName);
}
