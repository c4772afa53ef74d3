using Npgsql;
using Orleans.Runtime;
using Orleans.Storage;

namespace Orchestrator.Grains.Storage.Postgres;

/// <summary>
/// The cluster profile's grain storage: Orleans' ADO.NET provider (<see cref="AdoNetGrainStorage"/>)
/// over our PostgreSQL schema, handed each grain's full id ("pod/default/web-1") as its key.
/// </summary>
/// <remarks>
/// <para>
/// Orleans 10.4.2's ADO.NET provider identifies a row by state name and grain key and leaves the
/// grain type out (dotnet/orleans#8746, #9737). Here two grains of different types share keys and
/// state names: a Service and its Endpoints ("default/web", state "object"), the pod CIDR and
/// service IP allocators ("default", state "allocations"). It also reads keys that parse as
/// hexadecimal numbers ("10", "010", "cafe") as integer keys, so "10" and "010" would share a row
/// (#9706). Giving it a grain id whose key is the whole id string fixes both: the key carries the
/// type, and its "/" keeps it from parsing as a number or a GUID.
/// </para>
/// <para>
/// <see cref="PostgresGrainStateCatalog"/> relies on this layout to list one grain type's states.
/// </para>
/// <para>
/// Database failures leave as <see cref="Orchestrator.Model.StoreException"/>, and an operation
/// that met a connection closed by a PostgreSQL restart is retried once (<see cref="PostgresFailures"/>).
/// </para>
/// </remarks>
public sealed class PostgresGrainStorage(IGrainStorage adoNet, NpgsqlDataSource dataSource) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>The id the ADO.NET provider is given for <paramref name="grainId"/>: same type,
    /// with the full "type/key" string as its key.</summary>
    public static GrainId StoredId(GrainId grainId)
    {
        var type = grainId.Type.ToString()!;
        if (type.Contains('+', StringComparison.Ordinal))
        {
            // Orleans splits keys at '+' (key extensions) before trying to parse them as numbers;
            // a '+' in the type would put the split inside our prefix.
            throw new ArgumentException($"Grain type \"{type}\" contains '+', which this storage cannot key unambiguously.", nameof(grainId));
        }
        return GrainId.Create(grainId.Type, IdSpan.Create(StoredKey(type, grainId.Key.ToString()!)));
    }

    /// <summary>The key column value of a grain's rows.</summary>
    public static string StoredKey(string grainType, string grainKey) => KeyPrefix(grainType) + grainKey;

    /// <summary>Every stored key of <paramref name="grainType"/> starts with this.</summary>
    public static string KeyPrefix(string grainType) => grainType + "/";

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        PostgresFailures.RunAsync(dataSource, () => adoNet.ReadStateAsync(stateName, StoredId(grainId), grainState));

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        PostgresFailures.RunAsync(dataSource, () => adoNet.WriteStateAsync(stateName, StoredId(grainId), grainState));

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        PostgresFailures.RunAsync(dataSource, () => adoNet.ClearStateAsync(stateName, StoredId(grainId), grainState));

    /// <summary>The ADO.NET provider loads its queries from the database while the silo starts.</summary>
    public void Participate(ISiloLifecycle lifecycle)
    {
        if (adoNet is ILifecycleParticipant<ISiloLifecycle> participant)
        {
            participant.Participate(lifecycle);
        }
    }
}
