using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orchestrator.Serialization;

/// <summary>
/// What a strategic merge patch needs to know about the fields of one model type: each field's
/// JSON name, whether it is a list, the type of its value (or of its elements) and its
/// <see cref="MergeByKeyAttribute"/>, <see cref="MergeAsSetAttribute"/> and <see cref="RetainKeysAttribute"/>. Read by reflection once per type and cached, as
/// Kubernetes' <c>PatchMetaFromStruct</c> reads struct tags.
/// </summary>
public sealed class PatchSchema
{
    private static readonly ConcurrentDictionary<Type, PatchSchema> Cache = new();

    private readonly Dictionary<string, PatchField> _fields;

    private PatchSchema(Dictionary<string, PatchField> fields) => _fields = fields;

    /// <summary>The schema of a value the model does not describe (a map's values): every object
    /// merges key by key and every list is replaced, as in a JSON merge patch.</summary>
    public static PatchSchema Empty { get; } = new(new Dictionary<string, PatchField>(StringComparer.Ordinal));

    /// <summary>The schema of a model type; types without fields of their own (scalars,
    /// dictionaries) have an empty one, under which a patch merges as a JSON merge patch does.</summary>
    public static PatchSchema Of(Type type) => Cache.GetOrAdd(type, Build);

    /// <summary>The field of that JSON name, or null when the type has none (a map's keys).</summary>
    public PatchField? Field(string jsonName) => _fields.GetValueOrDefault(jsonName);

    private static PatchSchema Build(Type type)
    {
        var fields = new Dictionary<string, PatchField>(StringComparer.Ordinal);
        if (!IsRecord(type))
        {
            return new PatchSchema(fields);
        }
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetMethod is null || property.GetIndexParameters().Length > 0 || property.IsDefined(typeof(JsonIgnoreAttribute)))
            {
                continue;
            }
            var name = property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(property.Name);
            var valueType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var element = ListElementOf(valueType);
            fields[name] = new PatchField(
                name,
                element is not null,
                element ?? valueType,
                PatchStrategy.Of(property));
        }
        return new PatchSchema(fields);
    }

    /// <summary>The model's objects: classes with properties of their own, not strings, not
    /// dictionaries, not types with a JSON converter of their own (IntOrString, Quantity).</summary>
    private static bool IsRecord(Type type) =>
        type.IsClass && type != typeof(string) && !type.IsDefined(typeof(JsonConverterAttribute)) && DictionaryValueOf(type) is null && ListElementOf(type) is null;

    private static Type? ListElementOf(Type type)
    {
        if (type == typeof(string) || DictionaryValueOf(type) is not null)
        {
            return null;
        }
        return type.IsArray ? type.GetElementType()
            : type.IsGenericType && type.GetGenericTypeDefinition() is var d && (d == typeof(IReadOnlyList<>) || d == typeof(List<>) || d == typeof(IList<>) || d == typeof(IEnumerable<>) || d == typeof(IReadOnlyCollection<>))
                ? type.GetGenericArguments()[0]
                : null;
    }

    private static Type? DictionaryValueOf(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() is var d && (d == typeof(IReadOnlyDictionary<,>) || d == typeof(Dictionary<,>) || d == typeof(IDictionary<,>))
            ? type.GetGenericArguments()[1]
            : null;
}

/// <summary>One field of a <see cref="PatchSchema"/>.</summary>
/// <param name="Name">The JSON name.</param>
/// <param name="IsList">Whether the value is a JSON array.</param>
/// <param name="ValueType">The type of the value, or of each element of a list.</param>
/// <param name="Strategy">The declared patch strategy; null means merge-patch behaviour.</param>
public sealed record PatchField(string Name, bool IsList, Type ValueType, PatchStrategy? Strategy)
{
    /// <summary>A list that merges rather than being replaced.</summary>
    public bool MergesList => IsList && Strategy is { Merges: true };

    public PatchSchema Schema => PatchSchema.Of(ValueType);
}

/// <summary>How a strategic merge patch treats a field, from the attributes the model declares
/// on it (the same ones the OpenAPI documents publish as x-kubernetes-patch-strategy and
/// -merge-key): lists merge by a key (<see cref="MergeByKeyAttribute"/>) or as a set of scalars
/// (<see cref="MergeAsSetAttribute"/>), and an object may have its unnamed keys cleared
/// (<see cref="RetainKeysAttribute"/>).</summary>
/// <param name="Merges">The list merges instead of being replaced.</param>
/// <param name="RetainsKeys">A patch's $retainKeys applies.</param>
/// <param name="MergeKey">The JSON name of the field identifying each element; null for scalars.</param>
public sealed record PatchStrategy(bool Merges, bool RetainsKeys, string? MergeKey)
{
    /// <summary>The strategy declared on <paramref name="property"/>, or null (merge-patch behaviour).</summary>
    public static PatchStrategy? Of(PropertyInfo property)
    {
        var key = property.GetCustomAttribute<MergeByKeyAttribute>();
        var merges = key is not null || property.IsDefined(typeof(MergeAsSetAttribute));
        var retains = property.IsDefined(typeof(RetainKeysAttribute));
        return merges || retains ? new PatchStrategy(merges, retains, key?.Key) : null;
    }
}
