namespace Orchestrator.Serialization;

/// <summary>
/// A list whose items a patch merges by key instead of replacing the whole list: Kubernetes'
/// <c>+patchStrategy=merge</c>, <c>+patchMergeKey</c>, <c>+listType=map</c> and <c>+listMapKey</c>
/// markers. Declared on the model property itself so that every reader of patch semantics (the
/// OpenAPI documents kubectl reads, a strategic merge patch) takes them from one place.
/// </summary>
/// <param name="key">The field that identifies an item (Kubernetes' patchMergeKey), e.g. a
/// container's "name".</param>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class MergeByKeyAttribute(string key) : Attribute
{
    public string Key { get; } = key;

    /// <summary>The fields that together identify an item (Kubernetes' listMapKey markers); by
    /// default the merge key alone. Ports are keyed by number and protocol, as in Kubernetes.</summary>
    public string[]? MapKeys { get; init; }

    public IReadOnlyList<string> ListMapKeys => MapKeys ?? [Key];
}

/// <summary>
/// A list of scalars that a patch merges as a set (Kubernetes' <c>+patchStrategy=merge</c> with
/// <c>+listType=set</c>), such as metadata.finalizers: a patch adds its values instead of
/// replacing the list.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class MergeAsSetAttribute : Attribute;

/// <summary>
/// A field of alternatives (a deployment's strategy, a volume's source) that a patch replaces
/// whole: Kubernetes' <c>+patchStrategy=retainKeys</c>, so that a patch switching to another
/// alternative drops the fields of the old one instead of leaving both.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class RetainKeysAttribute : Attribute;
