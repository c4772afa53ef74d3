using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.Silo.Api.OpenApi;

/// <summary>Which OpenAPI a document is written in: where references point, how a reference
/// carries a description (v3 wraps it in allOf, as Kubernetes' v3 documents do), and how
/// parameters and bodies are described.</summary>
public sealed record OpenApiDialect(string RefPrefix, bool IsV3)
{
    public static OpenApiDialect V2 { get; } = new("#/definitions/", IsV3: false);

    public static OpenApiDialect V3 { get; } = new("#/components/schemas/", IsV3: true);
}

/// <summary>
/// Writes the JSON schemas of model types, read from the same serialization metadata the API
/// encodes and decodes with (<see cref="ResourceJson.Strict"/>): a field appears under the name,
/// and with the JSON type, that the API actually reads and writes, so the documents cannot drift
/// from the model. Each record type becomes one named definition, collected with every type it
/// reaches; fields carry the patch metadata of <see cref="MergeByKeyAttribute"/>,
/// <see cref="MergeAsSetAttribute"/> and <see cref="RetainKeysAttribute"/>.
/// </summary>
public sealed class SchemaBuilder(OpenApiDialect dialect, ModelDocs docs)
{
    private static readonly NullabilityInfoContext Nullability = new();

    private readonly SortedDictionary<string, JsonObject> _definitions = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, JsonObject> Definitions => _definitions;

    /// <summary>The definition name of a record type: its stable Orleans alias ("orch.Deployment"),
    /// which, unlike the .NET name, is part of the model's contract. kubectl explain shows the part
    /// after the last dot.</summary>
    public static string NameOf(Type type) =>
        type.GetCustomAttribute<AliasAttribute>()?.Alias ?? type.FullName ?? type.Name;

    /// <summary>Adds the definition of <paramref name="type"/> (and what it reaches) and returns
    /// its name.</summary>
    public string Add(Type type)
    {
        var name = NameOf(type);
        if (_definitions.ContainsKey(name))
        {
            return name;
        }
        if (Scalar(type) is { } scalar)
        {
            _definitions[name] = scalar;
            return name;
        }
        var info = ResourceJson.Strict.GetTypeInfo(type);
        if (info.Kind != JsonTypeInfoKind.Object)
        {
            throw new InvalidOperationException($"{type} is not serialized as a JSON object and has no definition of its own");
        }
        var schema = new JsonObject { ["type"] = "object" };
        _definitions[name] = schema; // before the properties: a type may reach itself
        if (docs.Of(type) is { } summary)
        {
            schema["description"] = summary;
        }
        var properties = new JsonObject();
        var required = new JsonArray();
        foreach (var property in info.Properties.Where(p => p.Get is not null).OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            var member = property.AttributeProvider as PropertyInfo;
            var propertySchema = PropertySchema(property.PropertyType, member);
            properties[property.Name] = propertySchema;
            if (member is not null && IsRequired(property, member))
            {
                required.Add(property.Name);
            }
        }
        schema["properties"] = properties;
        if (required.Count > 0)
        {
            schema["required"] = required;
        }
        return name;
    }

    /// <summary>Adds a definition the model has no record for (a kind's list, which the API writes
    /// in Kubernetes' shape for every kind).</summary>
    public void Define(string name, JsonObject schema) => _definitions[name] = schema;

    /// <summary>A reference to a named definition, with a description of the field that holds it.</summary>
    public JsonObject Ref(string name, string? description = null)
    {
        var reference = new JsonObject { ["$ref"] = dialect.RefPrefix + name };
        if (description is null)
        {
            return dialect.IsV3 ? new JsonObject { ["allOf"] = new JsonArray(reference) } : reference;
        }
        if (dialect.IsV3)
        {
            return new JsonObject { ["allOf"] = new JsonArray(reference), ["description"] = description };
        }
        reference["description"] = description;
        return reference;
    }

    private JsonObject PropertySchema(Type type, PropertyInfo? member)
    {
        var schema = Schema(type);
        // A field without a comment of its own is described by its type's comment (metadata by
        // ObjectMeta's), which kubectl explain shows for the field.
        var description = member is null ? null : docs.Of(member) ?? TypeDescription(type);
        if (description is not null)
        {
            if (schema.ContainsKey("$ref") || schema.ContainsKey("allOf"))
            {
                schema = Ref(NameOf(Nullable.GetUnderlyingType(type) ?? type), description);
            }
            else
            {
                schema["description"] = description;
            }
        }
        var strategies = new List<string>();
        if (member?.GetCustomAttribute<MergeByKeyAttribute>() is { } byKey)
        {
            schema["x-kubernetes-list-map-keys"] = new JsonArray(byKey.ListMapKeys.Select(k => (JsonNode)k).ToArray());
            schema["x-kubernetes-list-type"] = "map";
            schema["x-kubernetes-patch-merge-key"] = byKey.Key;
            strategies.Add("merge");
        }
        else if (member?.GetCustomAttribute<MergeAsSetAttribute>() is not null)
        {
            schema["x-kubernetes-list-type"] = "set";
            strategies.Add("merge");
        }
        if (member?.GetCustomAttribute<RetainKeysAttribute>() is not null)
        {
            strategies.Add("retainKeys");
        }
        if (strategies.Count > 0)
        {
            // Kubernetes writes both as "merge,retainKeys" (a pod's volumes).
            schema["x-kubernetes-patch-strategy"] = string.Join(",", strategies);
        }
        return schema;
    }

    /// <summary>The comment of the record (or IntOrString, Quantity) a field holds; none for lists,
    /// maps and plain values.</summary>
    private string? TypeDescription(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return Scalar(type) is not null || (type != typeof(string) && ResourceJson.Strict.GetTypeInfo(type).Kind == JsonTypeInfoKind.Object) ? docs.Of(type) : null;
    }

    private JsonObject Schema(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            return new JsonObject { ["type"] = "string" };
        }
        if (type == typeof(DateTimeOffset) || type == typeof(DateTime))
        {
            return new JsonObject { ["type"] = "string", ["format"] = "date-time" };
        }
        if (type == typeof(int))
        {
            return new JsonObject { ["type"] = "integer", ["format"] = "int32" };
        }
        if (type == typeof(long))
        {
            return new JsonObject { ["type"] = "integer", ["format"] = "int64" };
        }
        if (type == typeof(bool))
        {
            return new JsonObject { ["type"] = "boolean" };
        }
        if (type == typeof(double))
        {
            return new JsonObject { ["type"] = "number", ["format"] = "double" };
        }
        if (Scalar(type) is not null)
        {
            return Ref(Add(type));
        }
        var info = ResourceJson.Strict.GetTypeInfo(type);
        return info.Kind switch
        {
            JsonTypeInfoKind.Enumerable => new JsonObject { ["type"] = "array", ["items"] = Schema(info.ElementType!) },
            JsonTypeInfoKind.Dictionary => new JsonObject { ["type"] = "object", ["additionalProperties"] = Schema(info.ElementType!) },
            JsonTypeInfoKind.Object => Ref(Add(type)),
            _ => throw new InvalidOperationException($"no OpenAPI schema for {type}: give the model type a JSON shape this builder knows"),
        };
    }

    /// <summary>The model's types that have a JSON converter of their own and are written as one
    /// value: named definitions like Kubernetes' intstr.IntOrString and resource.Quantity.</summary>
    private static JsonObject? Scalar(Type type)
    {
        if (type == typeof(IntOrString))
        {
            return new JsonObject { ["type"] = "string", ["format"] = "int-or-string", ["x-kubernetes-int-or-string"] = true };
        }
        if (type == typeof(Quantity))
        {
            return new JsonObject { ["type"] = "string", ["format"] = "quantity" };
        }
        return null;
    }

    /// <summary>
    /// A field is required when the model declares it non-nullable and it is a value, a string or a
    /// list (a container's name, a policy rule's verbs, a port number): the server cannot default
    /// it. Non-nullable nested objects (metadata, spec) are not: the model initialises them empty,
    /// as Kubernetes leaves them optional. apiVersion and kind are never required (the URL says them).
    /// </summary>
    private static bool IsRequired(JsonPropertyInfo property, PropertyInfo member)
    {
        if (property.Name is "apiVersion" or "kind")
        {
            return false;
        }
        var type = property.PropertyType;
        if (Nullable.GetUnderlyingType(type) is not null)
        {
            return false;
        }
        if (!type.IsValueType && Nullability.Create(member).ReadState != NullabilityState.NotNull)
        {
            return false;
        }
        var kind = Scalar(type) is not null ? JsonTypeInfoKind.None : ResourceJson.Strict.GetTypeInfo(type).Kind;
        return kind is JsonTypeInfoKind.None or JsonTypeInfoKind.Enumerable;
    }
}
