using System.Globalization;
using System.Text.Json.Nodes;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Kinds;
using Orchestrator.Model;
using Orchestrator.Selectors;
using Orchestrator.Serialization;
using Orchestrator.Silo.Api.Tables;
using Orchestrator.Validation;

namespace Orchestrator.Silo.Api;

/// <summary>
/// The REST endpoints of one kind, on Kubernetes' paths: list (and watch), create, get,
/// replace, patch and delete, and the status subresource.
/// </summary>
public static class KindApi<T> where T : class, IResource<T>
{
    private static ResourceType Type => T.Type;

    public static string Prefix => Type.Group.Length == 0 ? $"/api/{Type.Version}" : $"/apis/{Type.Group}/{Type.Version}";

    public static void Map(IEndpointRouteBuilder app)
    {
        string collection, item;
        if (Type.Namespaced)
        {
            app.MapGet($"{Prefix}/{Type.Plural}", (HttpContext http, IGrainFactory grains) => ListAsync(http, grains, null));
            collection = $"{Prefix}/namespaces/{{namespace}}/{Type.Plural}";
            app.MapGet(collection, (HttpContext http, IGrainFactory grains, string @namespace) => ListAsync(http, grains, @namespace));
            app.MapPost(collection, (HttpContext http, IGrainFactory grains, string @namespace) => CreateAsync(http, grains, @namespace));
        }
        else
        {
            collection = $"{Prefix}/{Type.Plural}";
            app.MapGet(collection, (HttpContext http, IGrainFactory grains) => ListAsync(http, grains, null));
            app.MapPost(collection, (HttpContext http, IGrainFactory grains) => CreateAsync(http, grains, null));
        }
        item = collection + "/{name}";
        app.MapGet(item, (HttpContext http, string? @namespace, string name) => GetAsync(http, @namespace, name));
        app.MapPut(item, (HttpContext http, IGrainFactory grains, string? @namespace, string name) => ReplaceAsync(http, grains, @namespace, name, status: false));
        app.MapPatch(item, (HttpContext http, IGrainFactory grains, string? @namespace, string name) => PatchAsync(http, grains, @namespace, name, status: false));
        app.MapDelete(item, (HttpContext http, IGrainFactory grains, string? @namespace, string name) => DeleteAsync(http, grains, @namespace, name));
        if (Type.HasStatus)
        {
            app.MapGet(item + "/status", (HttpContext http, string? @namespace, string name) => GetAsync(http, @namespace, name));
            app.MapPut(item + "/status", (HttpContext http, IGrainFactory grains, string? @namespace, string name) => ReplaceAsync(http, grains, @namespace, name, status: true));
            app.MapPatch(item + "/status", (HttpContext http, IGrainFactory grains, string? @namespace, string name) => PatchAsync(http, grains, @namespace, name, status: true));
        }
    }

    public static IResourceGrain<T> Grain(IGrainFactory grains, string? ns, string name) => grains.GetGrain<IResourceGrain<T>>(Type.Key(ns, name));

    /// <summary>This silo's cache of the kind: lists and watches never leave the silo.</summary>
    public static Grains.Index.ResourceCache<T> Cache(HttpContext http) => http.RequestServices.GetRequiredService<Grains.Index.ResourceCaches>().Of<T>();

    public static async Task<T> LoadAsync(IGrainFactory grains, string? ns, string name) =>
        await Grain(grains, ns, name).GetAsync() ?? throw ApiErrors.NotFound(Type, name);

    /// <summary>A GET is answered from this silo's cache once it has every write acknowledged before
    /// the request (a consistent read, as Kubernetes' GET without resourceVersion), never by the
    /// object's grain, which may be busy reconciling.</summary>
    private static async Task<IResult> GetAsync(HttpContext http, string? ns, string name)
    {
        var cache = Cache(http);
        if (http.Request.Query["resourceVersion"].ToString() != "0")
        {
            await cache.SyncAsync();
        }
        var obj = await cache.GetAsync(Type.Key(ns, name)) ?? throw ApiErrors.NotFound(Type, name);
        return TableFor(http) is { } table ? new TableBody<T>(table, [obj]) : JsonBody.Of(obj);
    }

    /// <summary>The Table writer of this kind's columns when the request asks for a Table
    /// (kubectl get), else null.</summary>
    private static TableWriter<T>? TableFor(HttpContext http) =>
        TableRequest.From(http.Request) is { } request
            ? new TableWriter<T>(request, KindRegistry.Of<T>().Columns, http.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System)
            : null;

    private static async Task<IResult> ListAsync(HttpContext http, IGrainFactory grains, string? ns)
    {
        var q = http.Request.Query;
        var query = new ResourceQuery
        {
            Namespace = ns,
            Labels = Selector.Parse(q["labelSelector"]),
            Fields = FieldSelector.Parse(q["fieldSelector"], Type),
        };
        if (IsTrue(q["watch"]))
        {
            await Watch<T>.StreamAsync(http, Cache(http), query, TableFor(http));
            return Results.Empty;
        }
        var options = new ListOptions
        {
            Limit = q.TryGetValue("limit", out var l) && l.ToString() is { Length: > 0 } limit
                ? int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw ApiErrors.BadRequest($"limit \"{limit}\" is not a non-negative integer")
                : 0,
            Continue = q["continue"].ToString() is { Length: > 0 } c ? c : null,
            ResourceVersion = q["resourceVersion"].ToString() is { Length: > 0 } rv ? rv : null,
            ResourceVersionMatch = q["resourceVersionMatch"].ToString() is { Length: > 0 } m ? m : null,
        };
        var list = await Cache(http).ListAsync(query, options);
        if (TableFor(http) is { } table)
        {
            return new TableBody<T>(table, list.Items, list.ResourceVersion, list.Continue, list.RemainingItemCount);
        }
        return new JsonListBody<T>(Type, list.Items, list.ResourceVersion, list.Continue, list.RemainingItemCount);
    }

    private static async Task<IResult> CreateAsync(HttpContext http, IGrainFactory grains, string? ns)
    {
        var writeOptions = WriteOptionsOf(http, "CreateOptions");
        var body = await RequestBody.ReadAsync(http.Request, http.RequestAborted);
        var format = RequestBody.FormatOf(http.Request, body);
        if (format is not (BodyFormat.Json or BodyFormat.Yaml))
        {
            throw ApiErrors.UnsupportedMediaType(http.Request.ContentType ?? "");
        }
        var documents = RequestBody.Parse(body, format);
        // Decode and validate every document before storing any, so a bad one stores nothing.
        var objects = new List<T>(documents.Count);
        for (var i = 0; i < documents.Count; i++)
        {
            objects.Add(WithDocumentIndex(i, documents.Count, () => Prepare(documents[i], ns, name: null)));
        }
        var created = new List<T>(objects.Count);
        for (var i = 0; i < objects.Count; i++)
        {
            var obj = objects[i];
            var doc = i;
            created.Add(await WithDocumentIndexAsync(doc, objects.Count, () => Grain(grains, obj.Metadata.Namespace, obj.Metadata.Name!).CreateAsync(obj, writeOptions)));
            await AdmissionWarnings.AddAsync(http, created[^1]);
        }
        if (created.Count == 1)
        {
            return JsonBody.Of(created[0], StatusCodes.Status201Created);
        }
        return JsonBody.Of(new JsonObject
        {
            ["kind"] = "List",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["items"] = new JsonArray(created.Select(c => ResourceJson.ToNode(c)).ToArray()),
        }, StatusCodes.Status201Created);
    }

    private static async Task<IResult> ReplaceAsync(HttpContext http, IGrainFactory grains, string? ns, string name, bool status)
    {
        var writeOptions = WriteOptionsOf(http, "UpdateOptions");
        var body = await RequestBody.ReadAsync(http.Request, http.RequestAborted);
        var format = RequestBody.FormatOf(http.Request, body);
        if (format is not (BodyFormat.Json or BodyFormat.Yaml))
        {
            throw ApiErrors.UnsupportedMediaType(http.Request.ContentType ?? "");
        }
        var documents = RequestBody.Parse(body, format);
        if (documents.Count != 1)
        {
            throw ApiErrors.BadRequest($"a replace takes exactly one object, the body holds {documents.Count}");
        }
        var obj = Prepare(documents[0], ns, name);
        var grain = Grain(grains, ns, name);
        if (status)
        {
            return JsonBody.Of(await grain.UpdateStatusAsync(obj, writeOptions));
        }
        var updated = await grain.UpdateAsync(obj, writeOptions);
        await AdmissionWarnings.AddAsync(http, updated);
        return JsonBody.Of(updated);
    }

    private static async Task<IResult> PatchAsync(HttpContext http, IGrainFactory grains, string? ns, string name, bool status)
    {
        var writeOptions = WriteOptionsOf(http, "PatchOptions");
        var body = await RequestBody.ReadAsync(http.Request, http.RequestAborted);
        var format = RequestBody.FormatOf(http.Request, body);
        var patched = await Grain(grains, ns, name).PatchAsync(PatchTypeOf(http, format), body, status, writeOptions);
        if (!status)
        {
            await AdmissionWarnings.AddAsync(http, patched);
        }
        return JsonBody.Of(patched);
    }

    public static PatchType PatchTypeOf(HttpContext http, BodyFormat format) => format switch
    {
        BodyFormat.MergePatch => PatchType.Merge,
        BodyFormat.JsonPatch => PatchType.Json,
        // Server-side apply is not served (yet): a 415 naming the type is what kubectl reads as
        // "Server-side apply not available on the server".
        BodyFormat.StrategicMergePatch when IsServerSideApply(http) => throw ApiErrors.UnsupportedMediaType("application/apply-patch+yaml"),
        BodyFormat.StrategicMergePatch => PatchType.StrategicMerge,
        _ => throw ApiErrors.UnsupportedMediaType(http.Request.ContentType ?? ""),
    };

    private static bool IsServerSideApply(HttpContext http) =>
        http.Request.ContentType?.Split(';')[0].Trim().Equals("application/apply-patch+yaml", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>Kubernetes' dryRun query parameter: absent, or All (the only stage there is to
    /// skip: storage). Any other value is refused as Kubernetes' option validation refuses it
    /// (<paramref name="optionsKind"/> is CreateOptions, UpdateOptions, PatchOptions or DeleteOptions).</summary>
    public static WriteOptions WriteOptionsOf(HttpContext http, string optionsKind)
    {
        CheckFieldValidation(http);
        return CheckDryRun(http.Request.Query["dryRun"], optionsKind) ? WriteOptions.DryRunAll : WriteOptions.Default;
    }

    /// <summary>True for dryRun=All, false when there is none; 422 otherwise.</summary>
    private static bool CheckDryRun(IReadOnlyCollection<string?> values, string optionsKind)
    {
        if (values.Count == 0)
        {
            return false;
        }
        if (values.All(v => v == WriteOptions.All))
        {
            return true;
        }
        var quoted = string.Join(", ", values.Select(v => $"\"{v}\""));
        throw ApiErrors.Unprocessable($"{optionsKind}.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{{{quoted}}}: supported values: \"All\"");
    }

    private static async Task<IResult> DeleteAsync(HttpContext http, IGrainFactory grains, string? ns, string name)
    {
        var options = await DeleteOptionsFromAsync(http);
        var result = await Grain(grains, ns, name).DeleteAsync(options);
        return JsonBody.Of(result.Object, result.Finished ? StatusCodes.Status200OK : StatusCodes.Status202Accepted);
    }

    /// <summary>Decodes one document as this kind: checks apiVersion and kind, fills in and checks
    /// the namespace and name against the URL, and applies generateName.</summary>
    public static T Prepare(JsonNode document, string? ns, string? name)
    {
        if (document is JsonObject o)
        {
            var apiVersion = o["apiVersion"] is JsonValue av && av.TryGetValue<string>(out var a) ? a : null;
            var kind = o["kind"] is JsonValue kv && kv.TryGetValue<string>(out var k) ? k : null;
            if (apiVersion is not null && apiVersion != Type.ApiVersion)
            {
                throw ApiErrors.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({Type.ApiVersion})");
            }
            if (kind is not null && kind != Type.Kind)
            {
                throw ApiErrors.BadRequest($"the kind in the data ({kind}) does not match the expected kind ({Type.Kind}) for {Prefix}/{Type.Plural}");
            }
        }
        var obj = ResourceJson.Decode<T>(document);
        var meta = obj.Metadata;
        if (Type.Namespaced)
        {
            if (!string.IsNullOrEmpty(meta.Namespace) && meta.Namespace != ns)
            {
                throw ApiErrors.BadRequest($"the namespace of the provided object ({meta.Namespace}) does not match the namespace sent on the request ({ns})");
            }
            meta = meta with { Namespace = ns };
        }
        else if (!string.IsNullOrEmpty(meta.Namespace))
        {
            throw ApiErrors.BadRequest($"{Type.Plural} are not namespaced; remove metadata.namespace");
        }
        if (name is not null)
        {
            if (!string.IsNullOrEmpty(meta.Name) && meta.Name != name)
            {
                throw ApiErrors.BadRequest($"the name of the object ({meta.Name}) does not match the name on the URL ({name})");
            }
            meta = meta with { Name = name };
        }
        else if (string.IsNullOrEmpty(meta.Name) && !string.IsNullOrEmpty(meta.GenerateName))
        {
            meta = meta with { Name = meta.GenerateName + Grains.Fnv.RandomSuffix() };
        }
        obj = obj.WithMetadata(meta);
        if (name is null)
        {
            // A create: check now, before anything is stored (the grain checks again).
            var errors = Validator.Validate(T.ApplyDefaults(obj), null);
            if (errors.Any)
            {
                throw ApiErrors.Invalid(Type, meta.Name ?? meta.GenerateName, errors);
            }
        }
        return obj;
    }

    private static async Task<DeleteOptions> DeleteOptionsFromAsync(HttpContext http)
    {
        var options = DeleteOptions.Default;
        if (http.Request.ContentLength > 0 || http.Request.Headers.TransferEncoding.Count > 0)
        {
            var body = await RequestBody.ReadAsync(http.Request, http.RequestAborted);
            var format = RequestBody.FormatOf(http.Request, body);
            options = ResourceJson.Decode<DeleteOptions>(RequestBody.Parse(body, format)[0]);
        }
        var q = http.Request.Query;
        if (q.TryGetValue("gracePeriodSeconds", out var grace))
        {
            options = options with
            {
                GracePeriodSeconds = long.TryParse(grace, NumberStyles.None, CultureInfo.InvariantCulture, out var g)
                    ? g
                    : throw ApiErrors.BadRequest($"gracePeriodSeconds \"{grace}\" is not a non-negative integer"),
            };
        }
        if (q.TryGetValue("propagationPolicy", out var policy))
        {
            options = options with { PropagationPolicy = policy };
        }
        if (q.TryGetValue("dryRun", out var dryRun))
        {
            options = options with { DryRun = dryRun.Select(v => v ?? "").ToList() };
        }
        if (options.DryRun is { Count: > 0 } values)
        {
            CheckDryRun(values, "DeleteOptions");
        }
        return options;
    }

    /// <summary>Refuses a fieldValidation this server does not know. Every known one decodes
    /// strictly: an unknown field is an error naming it whatever the client asked, never dropped
    /// (the OpenAPI documents say so, which is how kubectl learns to leave validation to the
    /// server).</summary>
    private static void CheckFieldValidation(HttpContext http)
    {
        if (http.Request.Query["fieldValidation"].ToString() is not ("" or "Strict" or "Warn" or "Ignore") and var directive)
        {
            throw ApiErrors.BadRequest($"fieldValidation \"{directive}\" is not one of Ignore, Warn, Strict");
        }
    }

    public static bool IsTrue(string? value) => value is "true" or "1" or "True";

    private static TResult WithDocumentIndex<TResult>(int index, int count, Func<TResult> action)
    {
        try
        {
            return action();
        }
        catch (ApiException ex) when (count > 1)
        {
            throw new ApiException(ex.Status with { Message = $"document {index + 1} of {count}: {ex.Status.Message}" });
        }
    }

    private static async Task<TResult> WithDocumentIndexAsync<TResult>(int index, int count, Func<Task<TResult>> action)
    {
        try
        {
            return await action();
        }
        catch (ApiException ex) when (count > 1)
        {
            throw new ApiException(ex.Status with { Message = $"document {index + 1} of {count}: {ex.Status.Message}" + (index > 0 ? $" (documents 1 to {index} were created)" : "") });
        }
    }
}
