using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Orchestrator.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Silo.Api;

/// <summary>
/// YAML to JSON as Kubernetes does it (sigs.k8s.io/yaml): every document becomes one JSON
/// value. Plain scalars take YAML 1.2 core-schema types (null, booleans, integers, floats);
/// quoted scalars stay strings. Aliases are expanded with a bound, so a "billion laughs"
/// document is refused instead of exhausting memory.
/// </summary>
public static partial class Yaml
{
    private const int MaxNodes = 200_000;

    [GeneratedRegex("^[-+]?[0-9]+$")]
    private static partial Regex IntRegex();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatRegex();

    public static IReadOnlyList<JsonNode> ToJson(string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            throw ApiErrors.BadRequest($"the request body is not valid YAML: line {ex.Start.Line}, column {ex.Start.Column}: {Innermost(ex)}");
        }
        catch (InvalidOperationException ex)
        {
            throw ApiErrors.BadRequest($"the request body is not valid YAML: {Innermost(ex)}");
        }
        var budget = MaxNodes;
        var documents = new List<JsonNode>();
        foreach (var doc in stream.Documents)
        {
            if (doc.RootNode is YamlScalarNode { Value: null or "" } or null)
            {
                continue;
            }
            var node = Convert(doc.RootNode, ref budget, 0);
            if (node is not null)
            {
                documents.Add(node);
            }
        }
        if (documents.Count == 0)
        {
            throw ApiErrors.BadRequest("the request body holds no YAML document");
        }
        return documents;
    }

    private static JsonNode? Convert(YamlNode node, ref int budget, int depth)
    {
        if (--budget < 0)
        {
            throw ApiErrors.BadRequest($"the YAML document expands to more than {MaxNodes} values");
        }
        if (depth > 64)
        {
            throw ApiErrors.BadRequest("the YAML document is nested more than 64 levels deep");
        }
        switch (node)
        {
            case YamlMappingNode map:
                var obj = new JsonObject();
                foreach (var (k, v) in map.Children)
                {
                    if (k is not YamlScalarNode { Value: { } key })
                    {
                        throw ApiErrors.BadRequest($"YAML line {k.Start.Line}: mapping keys must be strings");
                    }
                    if (obj.ContainsKey(key))
                    {
                        throw ApiErrors.BadRequest($"YAML line {k.Start.Line}: key \"{key}\" appears twice");
                    }
                    obj[key] = Convert(v, ref budget, depth + 1);
                }
                return obj;
            case YamlSequenceNode seq:
                var array = new JsonArray();
                foreach (var item in seq.Children)
                {
                    array.Add(Convert(item, ref budget, depth + 1));
                }
                return array;
            case YamlScalarNode scalar:
                return Scalar(scalar);
            default:
                throw ApiErrors.BadRequest($"YAML line {node.Start.Line}: unsupported node");
        }
    }

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style is not ScalarStyle.Plain)
        {
            return JsonValue.Create(value);
        }
        switch (value)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }
        if (IntRegex().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return JsonValue.Create(l);
        }
        if (value.StartsWith("0x", StringComparison.Ordinal) && long.TryParse(value.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex))
        {
            return JsonValue.Create(hex);
        }
        if (FloatRegex().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
        {
            return JsonValue.Create(d);
        }
        return JsonValue.Create(value);
    }

    private static string Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }
        return ex.Message;
    }
}
