using Orchestrator.Model;

namespace Orchestrator.Grains.Resources;

/// <summary>What a resource grain stores: the object, or null once it is deleted.</summary>
public sealed class ResourceState<T> where T : class, IResource<T>
{
    public T? Object { get; set; }

    /// <summary>The storage state name every resource grain uses (see [PersistentState]).</summary>
    public const string StateName = "object";

    /// <summary>The storage provider holding objects, index state and allocations.</summary>
    public const string StorageName = "resources";
}
