namespace Orchestrator.Model;

/// <summary>
/// A failure of the store behind the grains (the cluster profile's PostgreSQL), in a form every
/// silo and client can deserialize: the database driver's own exceptions are not serializable
/// across grain calls. <see cref="IsTransient"/> failures (the database down, restarting, out of
/// connections) become HTTP 503 with a Retry-After; others are internal errors.
/// </summary>
[GenerateSerializer, Alias("orch.StoreException")]
public sealed class StoreException : Exception
{
    public StoreException()
    {
    }

    public StoreException(string message, bool isTransient, string? sqlState) : base(message)
    {
        IsTransient = isTransient;
        SqlState = sqlState;
    }

    /// <summary>Whether the same operation may succeed if tried again later.</summary>
    [Id(0)] public bool IsTransient { get; private set; }

    /// <summary>The PostgreSQL error code (SQLSTATE), when the server reported one.</summary>
    [Id(1)] public string? SqlState { get; private set; }
}
