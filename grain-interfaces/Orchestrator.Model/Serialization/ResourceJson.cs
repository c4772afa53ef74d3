using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Orchestrator.Model;

namespace Orchestrator.Serialization;

/// <summary>
/// The one JSON shape of our objects: Kubernetes' field names (camelCase), empty fields left
/// out, times in RFC 3339. The API writes it, and grain state is stored in it, so stored
/// state carries no .NET type names and survives renaming a type.
/// </summary>
public static class ResourceJson
{
    /// <summary>For reading and writing the API: unknown fields and duplicate keys are errors.</summary>
    public static JsonSerializerOptions Strict { get; } = Create(strict: true);

    /// <summary>For stored state: a field dropped from a type in a later version is ignored
    /// instead of making old state unreadable.</summary>
    public static JsonSerializerOptions Lenient { get; } = Create(strict: false);

    private static JsonSerializerOptions Create(bool strict)
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DictionaryKeyPolicy = null,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            PropertyNameCaseInsensitive = false,
            UnmappedMemberHandling = strict ? JsonUnmappedMemberHandling.Disallow : JsonUnmappedMemberHandling.Skip,
            AllowDuplicateProperties = !strict,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            MaxDepth = 64,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        };
        options.Converters.Add(new Rfc3339JsonConverter());
        options.MakeReadOnly();
        return options;
    }

    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Strict);

    public static string SerializeToString<T>(T value) => JsonSerializer.Serialize(value, Strict);

    public static JsonNode? ToNode<T>(T value) => JsonSerializer.SerializeToNode(value, Strict);

    public static T Clone<T>(T value) => JsonSerializer.Deserialize<T>(Serialize(value), Lenient)!;

    /// <summary>Structural equality through the JSON form. Records holding lists and
    /// dictionaries compare those by reference, so controllers that must skip no-op writes
    /// ("nothing changed") compare this way.</summary>
    public static bool DeepEquals(object? a, object? b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }
        if (a is null || b is null)
        {
            return false;
        }
        return JsonSerializer.SerializeToUtf8Bytes(a, a.GetType(), Strict).AsSpan()
            .SequenceEqual(JsonSerializer.SerializeToUtf8Bytes(b, b.GetType(), Strict));
    }

    /// <summary>
    /// Decodes an API request body. Every unknown field and every value of the wrong JSON type
    /// is reported at once, each by its path, as a 400 (Kubernetes' strict decoding error);
    /// nothing is silently dropped.
    /// </summary>
    public static T Decode<T>(JsonNode? node) => (T)Decode(node, typeof(T));

    public static object Decode(JsonNode? node, Type type)
    {
        if (node is not JsonObject)
        {
            throw ApiErrors.BadRequest($"the request body must be a JSON or YAML object, not {Describe(node)}");
        }
        var problems = new List<(string Field, string Problem)>();
        Check(node, Strict.GetTypeInfo(type), "", problems);
        if (problems.Count > 0)
        {
            var message = "strict decoding error: " + string.Join(", ", problems.Select(p => p.Problem));
            throw ApiErrors.BadRequest(message, problems.Select(p => new StatusCause
            {
                Reason = p.Problem.StartsWith("unknown field", StringComparison.Ordinal) ? "FieldValueUnknown" : "FieldValueInvalid",
                Field = p.Field,
                Message = p.Problem,
            }).ToList());
        }
        try
        {
            return node.Deserialize(type, Strict) ?? throw ApiErrors.BadRequest("the request body is empty");
        }
        catch (JsonException ex)
        {
            var path = ex.Path is { Length: > 2 } p ? p[2..] : "";
            throw ApiErrors.BadRequest($"error decoding {(path.Length > 0 ? "\"" + path + "\"" : "the request body")}: {FirstSentence(ex.Message)}");
        }
    }

    private static void Check(JsonNode? node, JsonTypeInfo info, string path, List<(string, string)> problems)
    {
        if (node is null)
        {
            return;
        }
        var type = Nullable.GetUnderlyingType(info.Type) ?? info.Type;
        if (type != info.Type)
        {
            info = Strict.GetTypeInfo(type);
        }
        switch (info.Kind)
        {
            case JsonTypeInfoKind.Object:
                if (node is not JsonObject obj)
                {
                    problems.Add((path, $"{Show(path)}: expected an object, got {Describe(node)}"));
                    return;
                }
                foreach (var (name, value) in obj)
                {
                    var prop = info.Properties.FirstOrDefault(p => p.Name == name && p.Set is not null);
                    var childPath = path.Length == 0 ? name : $"{path}.{name}";
                    if (prop is null)
                    {
                        problems.Add((childPath, $"unknown field \"{childPath}\""));
                        continue;
                    }
                    Check(value, Strict.GetTypeInfo(prop.PropertyType), childPath, problems);
                }
                return;
            case JsonTypeInfoKind.Enumerable:
                if (node is not JsonArray array)
                {
                    problems.Add((path, $"{Show(path)}: expected an array, got {Describe(node)}"));
                    return;
                }
                var elementInfo = Strict.GetTypeInfo(info.ElementType!);
                for (var i = 0; i < array.Count; i++)
                {
                    Check(array[i], elementInfo, $"{path}[{i}]", problems);
                }
                return;
            case JsonTypeInfoKind.Dictionary:
                if (node is not JsonObject map)
                {
                    problems.Add((path, $"{Show(path)}: expected an object, got {Describe(node)}"));
                    return;
                }
                var valueInfo = Strict.GetTypeInfo(info.ElementType!);
                foreach (var (key, value) in map)
                {
                    Check(value, valueInfo, $"{path}[{key}]", problems);
                }
                return;
            default:
                CheckScalar(node, type, path, problems);
                return;
        }
    }

    private static void CheckScalar(JsonNode node, Type type, string path, List<(string, string)> problems)
    {
        var kind = node.GetValueKind();
        string? expected = null;
        if (type == typeof(string) || type == typeof(DateTimeOffset))
        {
            expected = kind == JsonValueKind.String ? null : "a string";
        }
        else if (type == typeof(int) || type == typeof(long))
        {
            if (kind != JsonValueKind.Number)
            {
                expected = "an integer";
            }
            else if (!IsInteger(node, type == typeof(int) ? int.MinValue : long.MinValue, type == typeof(int) ? int.MaxValue : long.MaxValue))
            {
                expected = type == typeof(int) ? "an integer between -2147483648 and 2147483647" : "a 64-bit integer";
            }
        }
        else if (type == typeof(bool))
        {
            expected = kind is JsonValueKind.True or JsonValueKind.False ? null : "a boolean";
        }
        else if (type == typeof(IntOrString))
        {
            expected = kind == JsonValueKind.String || (kind == JsonValueKind.Number && IsInteger(node, int.MinValue, int.MaxValue)) ? null : "an integer or a string";
        }
        else if (type == typeof(Quantity))
        {
            expected = kind is JsonValueKind.String or JsonValueKind.Number ? null : "a quantity such as \"500m\" or \"128Mi\"";
        }
        if (expected is not null)
        {
            problems.Add((path, $"{Show(path)}: expected {expected}, got {Describe(node)}"));
        }
    }

    /// <summary>Whether a JSON number is a whole number within a range, however it was built
    /// (parsed text, or a long or double from YAML).</summary>
    private static bool IsInteger(JsonNode node, long min, long max) =>
        long.TryParse(node.ToJsonString(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var v) && v >= min && v <= max;

    private static string Show(string path) => path.Length == 0 ? "body" : $"\"{path}\"";

    private static string Describe(JsonNode? node) => node?.GetValueKind() switch
    {
        null or JsonValueKind.Null => "null",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string {node.ToJsonString(Strict)}",
        JsonValueKind.Number => $"the number {node.ToJsonString()}",
        _ => $"the boolean {node.ToJsonString()}",
    };

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
