using System.Text.Json.Serialization;
using Orchestrator.Serialization;

namespace Orchestrator.Model;

/// <summary>Kubernetes' ObjectMeta: what every persisted object carries.</summary>
[GenerateSerializer, Immutable, Alias("orch.ObjectMeta")]
public sealed record ObjectMeta
{
    [Id(0)] public string? Name { get; init; }
    [Id(1)] public string? GenerateName { get; init; }
    [Id(2)] public string? Namespace { get; init; }
    [Id(3)] public string? Uid { get; init; }
    [Id(4)] public string? ResourceVersion { get; init; }
    [Id(5)] public long? Generation { get; init; }
    [Id(6)] public DateTimeOffset? CreationTimestamp { get; init; }
    [Id(7)] public DateTimeOffset? DeletionTimestamp { get; init; }
    [Id(8)] public long? DeletionGracePeriodSeconds { get; init; }
    [Id(9)] public IReadOnlyDictionary<string, string>? Labels { get; init; }
    [Id(10)] public IReadOnlyDictionary<string, string>? Annotations { get; init; }
    [Id(11), MergeByKey("uid")] public IReadOnlyList<OwnerReference>? OwnerReferences { get; init; }
    [Id(12), MergeAsSet] public IReadOnlyList<string>? Finalizers { get; init; }

    /// <summary>The ownerReference with <c>controller: true</c>, if any.</summary>
    [JsonIgnore]
    public OwnerReference? ControllerRef => OwnerReferences?.FirstOrDefault(o => o.Controller == true);

    [JsonIgnore]
    public bool IsDeleting => DeletionTimestamp is not null;

    public string? Label(string key) => Labels is not null && Labels.TryGetValue(key, out var v) ? v : null;

    public string? Annotation(string key) => Annotations is not null && Annotations.TryGetValue(key, out var v) ? v : null;
}

[GenerateSerializer, Immutable, Alias("orch.OwnerReference")]
public sealed record OwnerReference
{
    [Id(0)] public string ApiVersion { get; init; } = "";
    [Id(1)] public string Kind { get; init; } = "";
    [Id(2)] public string Name { get; init; } = "";
    [Id(3)] public string Uid { get; init; } = "";
    [Id(4)] public bool? Controller { get; init; }
    [Id(5)] public bool? BlockOwnerDeletion { get; init; }
}

/// <summary>A label selector as written in specs: matchLabels ANDed with matchExpressions.</summary>
[GenerateSerializer, Immutable, Alias("orch.LabelSelector")]
public sealed record LabelSelector
{
    [Id(0)] public IReadOnlyDictionary<string, string>? MatchLabels { get; init; }
    [Id(1)] public IReadOnlyList<LabelSelectorRequirement>? MatchExpressions { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.LabelSelectorRequirement")]
public sealed record LabelSelectorRequirement
{
    [Id(0)] public string Key { get; init; } = "";
    /// <summary>In, NotIn, Exists or DoesNotExist.</summary>
    [Id(1)] public string Operator { get; init; } = "";
    [Id(2)] public IReadOnlyList<string>? Values { get; init; }
}

/// <summary>
/// A status condition. Kubernetes has one type per kind (PodCondition, NodeCondition,
/// DeploymentCondition ...) that differ only in which timestamps they carry; one record with
/// the union keeps the controllers' condition helpers shared.
/// </summary>
[GenerateSerializer, Immutable, Alias("orch.Condition")]
public sealed record Condition
{
    [Id(0)] public string Type { get; init; } = "";
    /// <summary>"True", "False" or "Unknown".</summary>
    [Id(1)] public string Status { get; init; } = "";
    [Id(2)] public string? Reason { get; init; }
    [Id(3)] public string? Message { get; init; }
    [Id(4)] public DateTimeOffset? LastTransitionTime { get; init; }
    [Id(5)] public DateTimeOffset? LastProbeTime { get; init; }
    [Id(6)] public DateTimeOffset? LastHeartbeatTime { get; init; }
    [Id(7)] public DateTimeOffset? LastUpdateTime { get; init; }
    [Id(8)] public long? ObservedGeneration { get; init; }
}

public static class ConditionStatus
{
    public const string True = "True";
    public const string False = "False";
    public const string Unknown = "Unknown";
}

/// <summary>The object reference kinds use in events and endpoints.</summary>
[GenerateSerializer, Immutable, Alias("orch.ObjectReference")]
public sealed record ObjectReference
{
    [Id(0)] public string? Kind { get; init; }
    [Id(1)] public string? Namespace { get; init; }
    [Id(2)] public string? Name { get; init; }
    [Id(3)] public string? Uid { get; init; }
    [Id(4)] public string? ApiVersion { get; init; }
    [Id(5)] public string? ResourceVersion { get; init; }
    [Id(6)] public string? FieldPath { get; init; }
}

public static class Conditions
{
    /// <summary>Sets a condition by type. Its lastTransitionTime only moves when its status
    /// changes, as Kubernetes' controllers keep it.</summary>
    public static IReadOnlyList<Condition> Set(IReadOnlyList<Condition>? conditions, Condition condition, DateTimeOffset now)
    {
        var list = (conditions ?? []).ToList();
        var i = list.FindIndex(c => c.Type == condition.Type);
        var existing = i >= 0 ? list[i] : null;
        var updated = condition with
        {
            LastTransitionTime = existing is not null && existing.Status == condition.Status ? existing.LastTransitionTime : now,
        };
        if (i >= 0)
        {
            list[i] = updated;
        }
        else
        {
            list.Add(updated);
        }
        return list;
    }

    public static Condition? Get(IReadOnlyList<Condition>? conditions, string type) => conditions?.FirstOrDefault(c => c.Type == type);
}
