using System.Text.Json;
using System.Text.Json.Nodes;
using Orchestrator.Model;

namespace Orchestrator.Serialization;

/// <summary>The PATCH formats a grain applies to its object.</summary>
public enum PatchType
{
    /// <summary>JSON merge patch (RFC 7386), application/merge-patch+json.</summary>
    Merge,

    /// <summary>JSON patch (RFC 6902), application/json-patch+json.</summary>
    Json,

    /// <summary>Kubernetes' strategic merge patch, application/strategic-merge-patch+json:
    /// lists merge by the keys the model declares (<see cref="MergeByKeyAttribute"/>).</summary>
    StrategicMerge,
}

/// <summary>The PATCH formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
/// Kubernetes' strategic merge patch.</summary>
public static class Patches
{
    /// <summary>Applies a patch to <paramref name="target"/>, an object of
    /// <paramref name="modelType"/> (whose declared merge keys a strategic merge patch follows).</summary>
    public static JsonNode Apply(JsonNode target, byte[] patchBody, PatchType type, Type modelType) => type switch
    {
        PatchType.Merge => MergePatch(target, ParseJson(patchBody)) ?? throw ApiErrors.BadRequest("the merge patch removes the whole object"),
        PatchType.StrategicMerge => StrategicMergePatch.Apply(target, ParseJson(patchBody), modelType),
        _ => JsonPatch(target, ParseJson(patchBody)),
    };

    /// <summary>Parses a JSON body; malformed JSON is a 400 that says why.</summary>
    public static JsonNode ParseJson(byte[] body)
    {
        try
        {
            var node = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = 64, AllowDuplicateProperties = false });
            return node ?? throw ApiErrors.BadRequest("the request body is JSON null, not an object");
        }
        catch (JsonException ex)
        {
            throw ApiErrors.BadRequest($"the request body is not valid JSON: {ex.Message}");
        }
        catch (ArgumentException ex)
        {
            throw ApiErrors.BadRequest($"the request body is not valid JSON: {ex.Message}");
        }
    }

    /// <summary>RFC 7386: objects merge key by key, null removes a key, anything else replaces.</summary>
    public static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }
        var result = target is JsonObject t ? (JsonObject)t.DeepClone() : new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                var merged = MergePatch(result[key], value);
                result[key] = merged;
            }
        }
        return result;
    }

    /// <summary>RFC 6902: add, remove, replace, move, copy and test, with JSON pointers.</summary>
    public static JsonNode JsonPatch(JsonNode target, JsonNode patch)
    {
        if (patch is not JsonArray ops)
        {
            throw ApiErrors.BadRequest("a JSON patch must be an array of operations");
        }
        var doc = target.DeepClone();
        for (var i = 0; i < ops.Count; i++)
        {
            if (ops[i] is not JsonObject op || op["op"]?.GetValue<string>() is not { } name || op["path"]?.GetValue<string>() is not { } path)
            {
                throw ApiErrors.BadRequest($"JSON patch operation {i}: needs \"op\" and \"path\"");
            }
            try
            {
                switch (name)
                {
                    case "add":
                        doc = Add(doc, path, Value(op, i));
                        break;
                    case "remove":
                        Remove(doc, path);
                        break;
                    case "replace":
                        Remove(doc, path);
                        doc = Add(doc, path, Value(op, i));
                        break;
                    case "move":
                        var from = From(op, i);
                        var moved = Get(doc, from)?.DeepClone();
                        Remove(doc, from);
                        doc = Add(doc, path, moved);
                        break;
                    case "copy":
                        doc = Add(doc, path, Get(doc, From(op, i))?.DeepClone());
                        break;
                    case "test":
                        if (!JsonNode.DeepEquals(Get(doc, path), op["value"]))
                        {
                            throw new PatchException($"test failed: the value at \"{path}\" differs");
                        }
                        break;
                    default:
                        throw new PatchException($"unknown op \"{name}\"");
                }
            }
            catch (PatchException ex)
            {
                throw ApiErrors.Unprocessable($"JSON patch operation {i} ({name} {path}): {ex.Message}");
            }
        }
        return doc;
    }

    private static JsonNode? Value(JsonObject op, int i) =>
        op.ContainsKey("value") ? op["value"]?.DeepClone() : throw new PatchException("needs \"value\"");

    private static string From(JsonObject op, int i) => op["from"]?.GetValue<string>() ?? throw new PatchException("needs \"from\"");

    private static List<string> Pointer(string path)
    {
        if (path.Length == 0)
        {
            return [];
        }
        if (path[0] != '/')
        {
            throw new PatchException("a path must start with '/'");
        }
        return path[1..].Split('/').Select(p => p.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)).ToList();
    }

    private static JsonNode? Get(JsonNode doc, string path)
    {
        JsonNode? node = doc;
        foreach (var part in Pointer(path))
        {
            node = node switch
            {
                JsonObject o when o.TryGetPropertyValue(part, out var v) => v,
                JsonArray a when int.TryParse(part, out var idx) && idx >= 0 && idx < a.Count => a[idx],
                _ => throw new PatchException($"path \"{path}\" does not exist"),
            };
        }
        return node;
    }

    private static JsonNode Add(JsonNode doc, string path, JsonNode? value)
    {
        var parts = Pointer(path);
        if (parts.Count == 0)
        {
            return value ?? throw new PatchException("cannot replace the document with null");
        }
        var parent = Get(doc, "/" + string.Join("/", parts.Take(parts.Count - 1).Select(Escape)));
        var last = parts[^1];
        switch (parent)
        {
            case JsonObject o:
                o[last] = value;
                break;
            case JsonArray a when last == "-":
                a.Add(value);
                break;
            case JsonArray a when int.TryParse(last, out var idx) && idx >= 0 && idx <= a.Count:
                a.Insert(idx, value);
                break;
            default:
                throw new PatchException($"cannot add at \"{path}\"");
        }
        return doc;
    }

    private static void Remove(JsonNode doc, string path)
    {
        var parts = Pointer(path);
        if (parts.Count == 0)
        {
            throw new PatchException("cannot remove the whole document");
        }
        var parent = Get(doc, parts.Count == 1 ? "" : "/" + string.Join("/", parts.Take(parts.Count - 1).Select(Escape)));
        var last = parts[^1];
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(last):
                o.Remove(last);
                break;
            case JsonArray a when int.TryParse(last, out var idx) && idx >= 0 && idx < a.Count:
                a.RemoveAt(idx);
                break;
            default:
                throw new PatchException($"path \"{path}\" does not exist");
        }
    }

    private static string Escape(string part) => part.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    private sealed class PatchException(string message) : Exception(message);
}
