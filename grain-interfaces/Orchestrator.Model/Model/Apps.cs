using System.Text.Json.Serialization;
using Orchestrator.Serialization;
using Orchestrator.Validation;

namespace Orchestrator.Model;

[GenerateSerializer, Immutable, Alias("orch.PodTemplateSpec")]
public sealed record PodTemplateSpec
{
    [Id(0)] public ObjectMeta? Metadata { get; init; }
    [Id(1)] public PodSpec Spec { get; init; } = new();
}

[GenerateSerializer, Immutable, Alias("orch.ReplicaSet")]
public sealed record ReplicaSet : IResource<ReplicaSet>
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public ReplicaSetSpec Spec { get; init; } = new();
    [Id(4)] public ReplicaSetStatus? Status { get; init; }

    public static ResourceType Type => ResourceTypes.ReplicaSet;

    public static ReplicaSet ApplyDefaults(ReplicaSet obj) => Defaults.ReplicaSet(obj);

    public static void Validate(ReplicaSet obj, ReplicaSet? old, FieldErrors errors) => Validator.ReplicaSet(obj, old, errors);

    public ReplicaSet WithMetadata(ObjectMeta metadata) => this with { Metadata = metadata };

    [JsonIgnore] public object? DesiredState => Spec;

    public ReplicaSet WithStatusOf(ReplicaSet other) => this with { Status = other.Status };
}

[GenerateSerializer, Immutable, Alias("orch.ReplicaSetSpec")]
public sealed record ReplicaSetSpec
{
    [Id(0)] public int? Replicas { get; init; }
    [Id(1)] public int? MinReadySeconds { get; init; }
    [Id(2)] public LabelSelector? Selector { get; init; }
    [Id(3)] public PodTemplateSpec Template { get; init; } = new();
}

[GenerateSerializer, Immutable, Alias("orch.ReplicaSetStatus")]
public sealed record ReplicaSetStatus
{
    [Id(0)] public int Replicas { get; init; }
    [Id(1)] public int? FullyLabeledReplicas { get; init; }
    [Id(2)] public int? ReadyReplicas { get; init; }
    [Id(3)] public int? AvailableReplicas { get; init; }
    [Id(4)] public long? ObservedGeneration { get; init; }
    [Id(5), MergeByKey("type")] public IReadOnlyList<Condition>? Conditions { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.Deployment")]
public sealed record Deployment : IResource<Deployment>
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public DeploymentSpec Spec { get; init; } = new();
    [Id(4)] public DeploymentStatus? Status { get; init; }

    public static ResourceType Type => ResourceTypes.Deployment;

    public static Deployment ApplyDefaults(Deployment obj) => Defaults.Deployment(obj);

    public static void Validate(Deployment obj, Deployment? old, FieldErrors errors) => Validator.Deployment(obj, old, errors);

    public Deployment WithMetadata(ObjectMeta metadata) => this with { Metadata = metadata };

    [JsonIgnore] public object? DesiredState => Spec;

    public Deployment WithStatusOf(Deployment other) => this with { Status = other.Status };
}

[GenerateSerializer, Immutable, Alias("orch.DeploymentSpec")]
public sealed record DeploymentSpec
{
    [Id(0)] public int? Replicas { get; init; }
    [Id(1)] public LabelSelector? Selector { get; init; }
    [Id(2)] public PodTemplateSpec Template { get; init; } = new();
    [Id(3), RetainKeys] public DeploymentStrategy? Strategy { get; init; }
    [Id(4)] public int? MinReadySeconds { get; init; }
    [Id(5)] public int? RevisionHistoryLimit { get; init; }
    [Id(6)] public bool? Paused { get; init; }
    [Id(7)] public int? ProgressDeadlineSeconds { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.DeploymentStrategy")]
public sealed record DeploymentStrategy
{
    /// <summary>RollingUpdate (the default) or Recreate.</summary>
    [Id(0)] public string? Type { get; init; }
    [Id(1)] public RollingUpdateDeployment? RollingUpdate { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.RollingUpdateDeployment")]
public sealed record RollingUpdateDeployment
{
    [Id(0)] public IntOrString? MaxUnavailable { get; init; }
    [Id(1)] public IntOrString? MaxSurge { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.DeploymentStatus")]
public sealed record DeploymentStatus
{
    [Id(0)] public long? ObservedGeneration { get; init; }
    [Id(1)] public int? Replicas { get; init; }
    [Id(2)] public int? UpdatedReplicas { get; init; }
    [Id(3)] public int? ReadyReplicas { get; init; }
    [Id(4)] public int? AvailableReplicas { get; init; }
    [Id(5)] public int? UnavailableReplicas { get; init; }
    [Id(6), MergeByKey("type")] public IReadOnlyList<Condition>? Conditions { get; init; }
    [Id(7)] public int? CollisionCount { get; init; }
}

public static class DeploymentStrategyType
{
    public const string RollingUpdate = "RollingUpdate";
    public const string Recreate = "Recreate";
}

/// <summary>autoscaling/v1 Scale: the /scale subresource of deployments and replica sets.</summary>
[GenerateSerializer, Immutable, Alias("orch.Scale")]
public sealed record Scale
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public ScaleSpec Spec { get; init; } = new();
    [Id(4)] public ScaleStatus? Status { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ScaleSpec")]
public sealed record ScaleSpec
{
    [Id(0)] public int? Replicas { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.ScaleStatus")]
public sealed record ScaleStatus
{
    [Id(0)] public int Replicas { get; init; }
    [Id(1)] public string? Selector { get; init; }
}

/// <summary>Label and annotation keys Kubernetes' controllers use, and ours.</summary>
public static class WellKnown
{
    public const string PodTemplateHashLabel = "pod-template-hash";
    public const string RevisionAnnotation = "deployment.kubernetes.io/revision";
    public const string DefaultNamespace = "default";
    public const string SystemNamespace = "kube-system";

    /// <summary>Our automatic rollback (on unless this annotation says "false"): a rollout whose
    /// new pods crash-loop, stay unavailable too long, or miss progressDeadlineSeconds returns to
    /// the last revision that was fully available.</summary>
    public const string AutoRollbackAnnotation = "orchestrator.dev/auto-rollback";

    /// <summary>A new pod restarting more times than this (default 3) fails the rollout.</summary>
    public const string RollbackMaxRestartsAnnotation = "orchestrator.dev/rollback-max-restarts";

    /// <summary>A new pod not available this many seconds after it was created (default 180)
    /// fails the rollout.</summary>
    public const string RollbackUnavailableSecondsAnnotation = "orchestrator.dev/rollback-unavailable-seconds";

    /// <summary>A new revision counts as good (and safe to roll back to later) only once all its
    /// pods have stayed Ready this many seconds (default 10): a container that crashes right after
    /// starting looks available for a moment.</summary>
    public const string RollbackWindowSecondsAnnotation = "orchestrator.dev/rollback-window-seconds";

    /// <summary>Set by the controller: the pod-template-hash of a template it rolled back from.
    /// While spec.template still is that template, the rollback holds.</summary>
    public const string RolledBackTemplateAnnotation = "orchestrator.dev/rolled-back-template";

    /// <summary>Set by the controller: the ReplicaSet it rolled back to.</summary>
    public const string RolledBackToAnnotation = "orchestrator.dev/rolled-back-to";

    /// <summary>On a ReplicaSet: it once ran the deployment's full replica count, available
    /// (a revision to roll back to).</summary>
    public const string CompletedAnnotation = "orchestrator.dev/completed";

    /// <summary>On a ReplicaSet: it stayed fully available for the rollback window; its rollout is
    /// over (no longer watched for failure) and it is the preferred revision to roll back to.</summary>
    public const string StableAnnotation = "orchestrator.dev/stable";
}
