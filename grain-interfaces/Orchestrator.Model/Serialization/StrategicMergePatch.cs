using System.Text.Json.Nodes;
using Orchestrator.Model;

namespace Orchestrator.Serialization;

/// <summary>
/// Kubernetes' strategic merge patch (application/strategic-merge-patch+json), what kubectl
/// sends for apply, label, annotate, patch, scale, set image and rollout. As a JSON merge patch,
/// except where the model declares a <see cref="MergeByKeyAttribute"/>: such lists merge
/// (objects by their merge key, scalars as a set) instead of being replaced. The directives of
/// Kubernetes' <c>strategicpatch</c> package are honoured: <c>$patch</c> (merge, replace,
/// delete) in a map or a list element, <c>$retainKeys</c>, <c>$setElementOrder/&lt;list&gt;</c>
/// and <c>$deleteFromPrimitiveList/&lt;list&gt;</c>; a null value removes its key.
/// </summary>
public static class StrategicMergePatch
{
    private const string PatchDirective = "$patch";
    private const string RetainKeysDirective = "$retainKeys";
    private const string SetElementOrderPrefix = "$setElementOrder/";
    private const string DeleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList/";

    /// <summary>Applies <paramref name="patch"/> to <paramref name="target"/>, an object of
    /// <paramref name="modelType"/>; the target is not changed. A malformed patch is a 400
    /// with Kubernetes' wording where it has one.</summary>
    public static JsonNode Apply(JsonNode target, JsonNode patch, Type modelType)
    {
        if (patch is not JsonObject patchObject)
        {
            throw ApiErrors.BadRequest("a strategic merge patch must be a JSON object");
        }
        return MergeObject(target as JsonObject, patchObject, PatchSchema.Of(modelType))
            ?? throw ApiErrors.BadRequest("the strategic merge patch deletes the whole object");
    }

    /// <summary>Kubernetes' mergeMap: null when the patch says <c>$patch: delete</c>.</summary>
    private static JsonObject? MergeObject(JsonObject? original, JsonObject patch, PatchSchema schema)
    {
        switch (StringOf(patch[PatchDirective]))
        {
            case null or "merge":
                break;
            case "delete":
                return null;
            case "replace":
                return WithoutDirectives(patch);
            case var other:
                throw ApiErrors.BadRequest($"Unknown patch type: {other} in map: {patch.ToJsonString()}");
        }
        var result = original?.DeepClone().AsObject() ?? [];
        if (patch[RetainKeysDirective] is JsonArray retain)
        {
            var kept = retain.Select(StringOf).ToHashSet(StringComparer.Ordinal);
            foreach (var key in result.Select(p => p.Key).Where(k => !kept.Contains(k)).ToList())
            {
                result.Remove(key);
            }
        }
        foreach (var (key, value) in patch)
        {
            if (key.StartsWith(DeleteFromPrimitiveListPrefix, StringComparison.Ordinal))
            {
                DeleteFromPrimitiveList(result, key[DeleteFromPrimitiveListPrefix.Length..], value);
            }
        }
        foreach (var (key, value) in patch)
        {
            if (key.StartsWith('$'))
            {
                continue;
            }
            if (value is null)
            {
                result.Remove(key);
                continue;
            }
            var field = schema.Field(key);
            var merged = value switch
            {
                JsonObject o => MergeObject(result[key] as JsonObject, o, field?.Schema ?? PatchSchema.Empty),
                JsonArray a when field is { MergesList: true } => MergeList(result[key] as JsonArray, a, field),
                JsonArray a => StripListDirectives(a, field),
                _ => value.DeepClone(),
            };
            if (merged is null)
            {
                result.Remove(key);
            }
            else
            {
                result[key] = merged;
            }
        }
        foreach (var (key, value) in patch)
        {
            if (key.StartsWith(SetElementOrderPrefix, StringComparison.Ordinal))
            {
                var list = key[SetElementOrderPrefix.Length..];
                if (value is not JsonArray order)
                {
                    throw ApiErrors.BadRequest($"invalid type for {key}: a list was expected");
                }
                if (result[list] is JsonArray merged)
                {
                    var mergeKey = schema.Field(list)?.Strategy?.MergeKey;
                    result[list] = Normalize(merged, order, original?[list] as JsonArray ?? [], mergeKey);
                }
            }
        }
        return result;
    }

    /// <summary>Kubernetes' mergeSlice for a list declared <c>merge</c>.</summary>
    private static JsonArray MergeList(JsonArray? original, JsonArray patch, PatchField field)
    {
        var mergeKey = field.Strategy!.MergeKey;
        if (mergeKey is null)
        {
            // Scalars merge as a set: the original's in their order, then the patch's new ones.
            var union = new JsonArray();
            foreach (var item in (original ?? []).Concat(patch))
            {
                if (!union.Any(u => JsonNode.DeepEquals(u, item)))
                {
                    union.Add(item?.DeepClone());
                }
            }
            return Normalize(union, patch, original ?? [], null);
        }
        var elements = patch.Select(e => e as JsonObject ?? throw ApiErrors.BadRequest($"the elements of {field.Name} must be objects: {patch.ToJsonString()}")).ToList();
        // {"$patch": "replace"} as an element: the list is replaced by the other elements.
        if (elements.Any(e => StringOf(e[PatchDirective]) == "replace"))
        {
            return new JsonArray(elements.Where(e => StringOf(e[PatchDirective]) != "replace").Select(e => (JsonNode?)WithoutDirectives(e)).ToArray());
        }
        var result = original?.DeepClone().AsArray() ?? [];
        var patchItems = new JsonArray();
        foreach (var element in elements)
        {
            if (!element.TryGetPropertyValue(mergeKey, out var key) || key is null)
            {
                throw ApiErrors.BadRequest($"map: {element.ToJsonString()} does not contain declared merge key: {mergeKey}");
            }
            var index = IndexOf(result, key, mergeKey);
            var directive = StringOf(element[PatchDirective]);
            if (directive == "delete")
            {
                while (index >= 0)
                {
                    result.RemoveAt(index);
                    index = IndexOf(result, key, mergeKey);
                }
                continue;
            }
            if (directive is not (null or "merge"))
            {
                throw ApiErrors.BadRequest($"Unknown patch type: {directive} in map: {element.ToJsonString()}");
            }
            var merged = MergeObject(index >= 0 ? result[index] as JsonObject : null, element, field.Schema)!;
            if (index >= 0)
            {
                result[index] = merged;
            }
            else
            {
                result.Add(merged);
            }
            patchItems.Add(new JsonObject { [mergeKey] = key.DeepClone() });
        }
        return Normalize(result, patchItems, original ?? [], mergeKey);
    }

    /// <summary>Kubernetes' normalizeElementOrder: the elements named in <paramref name="order"/>
    /// come in that order; the others keep their places relative to the original list.</summary>
    private static JsonArray Normalize(JsonArray merged, JsonArray order, JsonArray original, string? mergeKey)
    {
        JsonNode? Identity(JsonNode? item) => mergeKey is null ? item : (item as JsonObject)?[mergeKey];
        int IndexIn(JsonArray list, JsonNode? item) => list.Select((e, i) => (e, i)).FirstOrDefault(x => JsonNode.DeepEquals(Identity(x.e), Identity(item)), (null, -1)).Item2;
        var ordered = merged.Where(m => IndexIn(order, m) >= 0).OrderBy(m => IndexIn(order, m)).ToList();
        var serverOnly = merged.Where(m => IndexIn(order, m) < 0).OrderBy(m => IndexIn(original, m)).ToList();
        var result = new JsonArray();
        int i = 0, j = 0;
        while (i < serverOnly.Count || j < ordered.Count)
        {
            bool takeServer;
            if (j >= ordered.Count)
            {
                takeServer = true;
            }
            else if (i >= serverOnly.Count)
            {
                takeServer = false;
            }
            else
            {
                var (left, right) = (IndexIn(original, serverOnly[i]), IndexIn(original, ordered[j]));
                takeServer = left >= 0 && right >= 0 && left < right;
            }
            result.Add((takeServer ? serverOnly[i++] : ordered[j++])?.DeepClone());
        }
        return result;
    }

    private static void DeleteFromPrimitiveList(JsonObject result, string list, JsonNode? values)
    {
        if (values is not JsonArray remove)
        {
            throw ApiErrors.BadRequest($"invalid type for {DeleteFromPrimitiveListPrefix}{list}: a list was expected");
        }
        if (result[list] is JsonArray items)
        {
            result[list] = new JsonArray(items.Where(i => !remove.Any(r => JsonNode.DeepEquals(r, i))).Select(i => i?.DeepClone()).ToArray());
        }
    }

    /// <summary>A list that is replaced keeps no directives in its elements.</summary>
    private static JsonArray StripListDirectives(JsonArray list, PatchField? field) =>
        new(list.Select(e => e is JsonObject o ? MergeObject(null, o, field?.Schema ?? PatchSchema.Empty) : e?.DeepClone()).Where(e => e is not null).ToArray());

    private static JsonObject WithoutDirectives(JsonObject patch) =>
        new(patch.Where(p => !p.Key.StartsWith('$')).Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));

    private static int IndexOf(JsonArray list, JsonNode key, string mergeKey)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] is JsonObject o && JsonNode.DeepEquals(o[mergeKey], key))
            {
                return i;
            }
        }
        return -1;
    }

    private static string? StringOf(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
