namespace Orchestrator.Serialization;

/// <summary>
/// How a strategic merge patch treats a field, declared once on the model property as
/// Kubernetes' API types declare it in struct tags (<c>patchStrategy:"merge"
/// patchMergeKey:"name"</c>). Fields without it follow JSON merge patch: maps merge, lists are
/// replaced. The strategic merge patch reads it (<see cref="StrategicMergePatch"/>), and so can
/// whatever publishes the schema (<c>x-kubernetes-patch-strategy</c> and
/// <c>x-kubernetes-patch-merge-key</c>).
/// </summary>
/// <param name="strategy">Kubernetes' strategy string: <c>merge</c> (a list merges, by
/// <see cref="MergeKey"/> for lists of objects, as a set for lists of scalars),
/// <c>retainKeys</c> (a patch of the object may clear the keys it does not name), or both
/// joined by a comma (<c>merge,retainKeys</c>).</param>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = true)]
public sealed class PatchStrategyAttribute(string strategy) : Attribute
{
    public string Strategy { get; } = strategy;

    /// <summary>The field of each list element that identifies it (JSON name, e.g.
    /// <c>containerPort</c>); null for lists of scalars and for strategies other than merge.</summary>
    public string? MergeKey { get; init; }

    public bool Merges => Strategy.Split(',').Contains("merge", StringComparer.Ordinal);

    public bool RetainsKeys => Strategy.Split(',').Contains("retainKeys", StringComparer.Ordinal);
}
