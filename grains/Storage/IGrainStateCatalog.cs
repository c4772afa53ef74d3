namespace Orchestrator.Grains.Storage;

/// <summary>
/// Enumerates stored grain state by grain type, without activating the grains. Index grains use it
/// to rebuild their list of objects after a restart.
/// </summary>
public interface IGrainStateCatalog
{
    /// <summary>
    /// Every stored state named <paramref name="stateName"/> of grains of type
    /// <paramref name="grainType"/>, in ordinal order of grain key, deserialized with the storage
    /// provider's serializer.
    /// </summary>
    /// <param name="grainType">The grain type as in <c>grainId.Type.ToString()</c>, e.g. the name given by <c>[GrainType("...")]</c>.</param>
    /// <param name="stateName">The persistent state's name.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    /// <remarks>
    /// Not a snapshot: states written or cleared while the enumeration runs may or may not be seen,
    /// so a caller that needs the current set reconciles with later change notifications
    /// (level-triggered, as with a Kubernetes list followed by a watch).
    /// </remarks>
    IAsyncEnumerable<(string GrainKey, T? State)> ReadAllAsync<T>(string grainType, string stateName, CancellationToken cancellationToken = default);

    /// <summary>One grain's stored state, or default when none is stored. An index grain uses it to
    /// learn whether a writer that died after reserving a version stored its change.</summary>
    Task<T?> ReadAsync<T>(string grainType, string grainKey, string stateName, CancellationToken cancellationToken = default);
}
