using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Orchestrator.Grains.Kinds;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.Silo.Api.OpenApi;

/// <summary>One served document: its JSON and the hash that names this version of it.</summary>
public sealed record OpenApiDocument(byte[] Json, string Hash)
{
    public static OpenApiDocument Of(JsonObject document)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(document, ResourceJson.Strict);
        return new(json, Convert.ToHexString(SHA512.HashData(json)));
    }
}

/// <summary>A kind the documents describe: its type entry and the model record that holds it.</summary>
public sealed record DocumentedKind(ResourceType Type, Type ClrType)
{
    /// <summary>Every kind in the <see cref="KindRegistry"/>: a kind registered there appears in the
    /// documents with nothing else to change.</summary>
    public static IReadOnlyList<DocumentedKind> Registered() => KindRegistry.All.Select(k => k.Accept(ClrTypeOf.Instance)).ToList();

    private sealed class ClrTypeOf : IKindVisitor<DocumentedKind>
    {
        public static readonly ClrTypeOf Instance = new();

        public DocumentedKind Visit<T>(Kind<T> kind) where T : class, IResource<T> => new(T.Type, typeof(T));
    }
}

/// <summary>
/// The OpenAPI documents of the served kinds, generated from the model: v2 as one document
/// (/openapi/v2), v3 as one document per group-version (/openapi/v3/apis/apps/v1) listed by an
/// index whose URLs carry each document's hash, so a client caches a document until its hash
/// changes. The kinds are fixed for the life of the process, so each document is built once, on
/// first use.
/// </summary>
public sealed class OpenApiDocuments
{
    private readonly IReadOnlyList<DocumentedKind> _kinds;
    private readonly ModelDocs _docs;
    private readonly Lazy<OpenApiDocument> _v2;
    private readonly Lazy<IReadOnlyDictionary<string, OpenApiDocument>> _v3;
    private readonly Lazy<OpenApiDocument> _v3Index;

    public OpenApiDocuments(IReadOnlyList<DocumentedKind> kinds, ModelDocs docs)
    {
        _kinds = kinds;
        _docs = docs;
        _v2 = new(() => OpenApiDocument.Of(BuildV2()));
        _v3 = new(() => _kinds.GroupBy(k => GroupVersionPath(k.Type)).ToDictionary(g => g.Key, g => OpenApiDocument.Of(BuildV3(g.ToList())), StringComparer.Ordinal));
        _v3Index = new(() => OpenApiDocument.Of(BuildV3Index()));
    }

    /// <summary>The documents of the registered kinds, with the model's doc comments.</summary>
    public static OpenApiDocuments Registered() => new(DocumentedKind.Registered(), ModelDocs.For(typeof(ObjectMeta)));

    public OpenApiDocument V2 => _v2.Value;

    public OpenApiDocument V3Index => _v3Index.Value;

    /// <summary>The v3 documents by group-version path ("api/v1", "apis/apps/v1").</summary>
    public IReadOnlyDictionary<string, OpenApiDocument> V3 => _v3.Value;

    /// <summary>"api/v1" for the core group, "apis/GROUP/VERSION" otherwise: the v3 document's
    /// path under /openapi/v3, as Kubernetes names them.</summary>
    public static string GroupVersionPath(ResourceType type) => type.Group.Length == 0 ? $"api/{type.Version}" : $"apis/{type.Group}/{type.Version}";

    public JsonObject BuildV2()
    {
        var schemas = new SchemaBuilder(OpenApiDialect.V2, _docs);
        var paths = Describe(OpenApiDialect.V2, schemas, _kinds);
        return new JsonObject
        {
            ["swagger"] = "2.0",
            ["info"] = Info(),
            ["paths"] = paths,
            ["definitions"] = Definitions(schemas),
        };
    }

    public JsonObject BuildV3(IReadOnlyList<DocumentedKind> kinds)
    {
        var schemas = new SchemaBuilder(OpenApiDialect.V3, _docs);
        var paths = Describe(OpenApiDialect.V3, schemas, kinds);
        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = Info(),
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = Definitions(schemas) },
        };
    }

    private JsonObject BuildV3Index()
    {
        var paths = new JsonObject();
        foreach (var (path, document) in V3.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            paths[path] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{path}?hash={document.Hash}" };
        }
        return new JsonObject { ["paths"] = paths };
    }

    /// <summary>Adds each kind's definition (with its group-version-kind), its list's definition and
    /// its paths; returns the paths.</summary>
    private static JsonObject Describe(OpenApiDialect dialect, SchemaBuilder schemas, IEnumerable<DocumentedKind> kinds)
    {
        var operations = new KindPaths(dialect, schemas);
        var paths = new JsonObject();
        schemas.Add(typeof(ApiStatus));
        foreach (var kind in kinds)
        {
            var name = schemas.Add(kind.ClrType);
            schemas.Definitions[name]["x-kubernetes-group-version-kind"] = GroupVersionKind(kind.Type, kind.Type.Kind);
            var listName = AddList(schemas, kind.Type, name);
            operations.Add(paths, kind.Type, name, listName);
        }
        return paths;
    }

    /// <summary>The FooList definition: Kubernetes' list shape (metadata and items), written by the
    /// API for every kind rather than declared as a model type per kind.</summary>
    private static string AddList(SchemaBuilder schemas, ResourceType type, string itemName)
    {
        var listMeta = schemas.Add(typeof(ListMeta));
        var name = itemName + "List";
        var list = new JsonObject
        {
            ["description"] = $"A list of {type.Kind} objects.",
            ["type"] = "object",
            ["properties"] = new JsonObject
            {
                ["apiVersion"] = new JsonObject { ["type"] = "string", ["description"] = "The versioned schema of this object." },
                ["items"] = new JsonObject { ["type"] = "array", ["items"] = schemas.Ref(itemName) },
                ["kind"] = new JsonObject { ["type"] = "string", ["description"] = "The kind of this object." },
                ["metadata"] = schemas.Ref(listMeta, "Standard list metadata."),
            },
            ["required"] = new JsonArray("items"),
            ["x-kubernetes-group-version-kind"] = GroupVersionKind(type, type.ListKind),
        };
        schemas.Define(name, list);
        return name;
    }

    private static JsonArray GroupVersionKind(ResourceType type, string kind) =>
        new(new JsonObject { ["group"] = type.Group, ["kind"] = kind, ["version"] = type.Version });

    private static JsonObject Definitions(SchemaBuilder schemas)
    {
        var definitions = new JsonObject();
        foreach (var (name, schema) in schemas.Definitions.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            definitions[name] = schema;
        }
        return definitions;
    }

    private static JsonObject Info() => new() { ["title"] = "Orchestrator", ["version"] = Discovery.ServerVersion };
}
