using Orchestrator.Validation;

namespace Orchestrator.Model;

/// <summary>What every stored object has: type meta and object meta.</summary>
public interface IResource
{
    string? ApiVersion { get; }
    string? Kind { get; }
    ObjectMeta Metadata { get; }
}

/// <summary>
/// A kind of stored object. The static members are the kind's table entry (its type, server
/// defaults and validation); the instance members let shared code (grains, API) copy objects
/// without knowing their kind.
/// </summary>
public interface IResource<TSelf> : IResource where TSelf : class, IResource<TSelf>
{
    static abstract ResourceType Type { get; }

    /// <summary>Applies Kubernetes' server-side defaults; returns a complete object.</summary>
    static abstract TSelf ApplyDefaults(TSelf obj);

    /// <summary>Adds every problem with <paramref name="obj"/> (and, on update, with the change from
    /// <paramref name="old"/>) to <paramref name="errors"/>, each naming its field.</summary>
    static abstract void Validate(TSelf obj, TSelf? old, FieldErrors errors);

    TSelf WithMetadata(ObjectMeta metadata);

    /// <summary>The part of the object whose change bumps <c>metadata.generation</c>: the spec,
    /// or for kinds without one everything but metadata.</summary>
    object? DesiredState { get; }

    /// <summary>This object with the status of <paramref name="other"/>. A status write takes the
    /// stored object's spec this way, so it can never change the spec; a spec write keeps the
    /// stored status. Kinds without a status return this object.</summary>
    TSelf WithStatusOf(TSelf other);
}

/// <summary>A kind's table entry: its API group, version, names and shape.</summary>
public sealed record ResourceType(
    string Group,
    string Version,
    string Kind,
    string Plural,
    bool Namespaced,
    bool HasStatus,
    bool HasScale = false,
    string[]? ShortNames = null)
{
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    public string ListKind => Kind + "List";

    public string Singular => Kind.ToLowerInvariant();

    /// <summary>The Orleans grain type name, pinned with [GrainType] on the grain class.</summary>
    public string GrainType => Singular;

    /// <summary>"Deployment.apps" / "Pod": how Kubernetes names a kind in error messages.</summary>
    public string QualifiedKind => Group.Length == 0 ? Kind : $"{Kind}.{Group}";

    /// <summary>"deployments.apps" / "pods": how Kubernetes names a resource in NotFound messages.</summary>
    public string QualifiedResource => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    /// <summary>The grain key: "namespace/name" for namespaced kinds, "name" otherwise.</summary>
    public string Key(string? ns, string name) => Namespaced ? $"{ns}/{name}" : name;

    public static (string? Namespace, string Name) SplitKey(string key)
    {
        var slash = key.IndexOf('/');
        return slash < 0 ? (null, key) : (key[..slash], key[(slash + 1)..]);
    }
}

public static class ResourceExtensions
{
    public static string Key<T>(this T obj) where T : class, IResource<T> => T.Type.Key(obj.Metadata.Namespace, obj.Metadata.Name ?? "");

    public static string NamespacedName(this IResource obj) =>
        obj.Metadata.Namespace is null ? obj.Metadata.Name ?? "" : $"{obj.Metadata.Namespace}/{obj.Metadata.Name}";

    public static bool IsControlledBy(this IResource obj, IResource owner) =>
        obj.Metadata.ControllerRef is { } r && r.Uid == owner.Metadata.Uid;

    public static OwnerReference ControllerReferenceTo<T>(this T owner) where T : class, IResource<T> => new()
    {
        ApiVersion = T.Type.ApiVersion,
        Kind = T.Type.Kind,
        Name = owner.Metadata.Name ?? "",
        Uid = owner.Metadata.Uid ?? "",
        Controller = true,
        BlockOwnerDeletion = true,
    };

    public static ObjectReference Reference<T>(this T obj) where T : class, IResource<T> => new()
    {
        Kind = T.Type.Kind,
        ApiVersion = T.Type.ApiVersion,
        Namespace = obj.Metadata.Namespace,
        Name = obj.Metadata.Name,
        Uid = obj.Metadata.Uid,
        ResourceVersion = obj.Metadata.ResourceVersion,
    };

    public static long ResourceVersionNumber(this IResource obj) =>
        long.TryParse(obj.Metadata.ResourceVersion, out var v) ? v : 0;
}
