using System.Text.Json.Nodes;
using Orchestrator.Model;

namespace Orchestrator.Silo.Api.OpenApi;

/// <summary>
/// The paths and operations of one kind, as <see cref="KindApi{T}"/> maps them, each operation
/// tagged with Kubernetes' <c>x-kubernetes-action</c> and <c>x-kubernetes-group-version-kind</c>.
/// kubectl reads the PATCH operation's parameters to learn that this server validates fields
/// itself (<c>fieldValidation</c>), and then sends that parameter instead of validating
/// client-side.
/// </summary>
public sealed class KindPaths(OpenApiDialect dialect, SchemaBuilder schemas)
{
    private static readonly string[] PatchTypes = ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"];

    /// <summary>Adds the kind's paths to <paramref name="paths"/>; <paramref name="kindSchema"/> and
    /// <paramref name="listSchema"/> are the names of its definitions.</summary>
    public void Add(JsonObject paths, ResourceType type, string kindSchema, string listSchema)
    {
        var prefix = type.Group.Length == 0 ? $"/api/{type.Version}" : $"/apis/{type.Group}/{type.Version}";
        var scope = type.Namespaced ? "Namespaced" : "";
        var id = OperationSuffix(type);
        var collection = type.Namespaced ? $"{prefix}/namespaces/{{namespace}}/{type.Plural}" : $"{prefix}/{type.Plural}";
        var pathParameters = type.Namespaced ? new[] { "namespace" } : [];

        paths[collection] = Path(pathParameters,
            ("get", Operation(type, "list", $"list{id.Group}{scope}{type.Kind}", $"list or watch objects of kind {type.Kind}", ListParameters(), null, Response(listSchema))),
            ("post", Operation(type, "post", $"create{id.Group}{scope}{type.Kind}", $"create a {type.Kind}", [FieldValidation()], Body(kindSchema, ["application/json", "application/yaml"]), Response(kindSchema, "201"))));
        if (type.Namespaced)
        {
            paths[$"{prefix}/{type.Plural}"] = Path([],
                ("get", Operation(type, "list", $"list{id.Group}{type.Kind}ForAllNamespaces", $"list or watch objects of kind {type.Kind}", ListParameters(), null, Response(listSchema))));
        }
        var item = collection + "/{name}";
        string[] itemParameters = [.. pathParameters, "name"];
        paths[item] = Path(itemParameters,
            ("get", Operation(type, "get", $"read{id.Group}{scope}{type.Kind}", $"read the specified {type.Kind}", [], null, Response(kindSchema))),
            ("put", Operation(type, "put", $"replace{id.Group}{scope}{type.Kind}", $"replace the specified {type.Kind}", [FieldValidation()], Body(kindSchema, ["application/json", "application/yaml"]), Response(kindSchema))),
            ("patch", Operation(type, "patch", $"patch{id.Group}{scope}{type.Kind}", $"partially update the specified {type.Kind}", [FieldValidation()], PatchBody(), Response(kindSchema))),
            ("delete", Operation(type, "delete", $"delete{id.Group}{scope}{type.Kind}", $"delete a {type.Kind}", [Query("gracePeriodSeconds", "integer"), Query("propagationPolicy", "string")], Body(schemas.Add(typeof(DeleteOptions)), ["application/json"]), Response(kindSchema))));
        if (type.HasStatus)
        {
            paths[item + "/status"] = Path(itemParameters,
                ("get", Operation(type, "get", $"read{id.Group}{scope}{type.Kind}Status", $"read status of the specified {type.Kind}", [], null, Response(kindSchema))),
                ("put", Operation(type, "put", $"replace{id.Group}{scope}{type.Kind}Status", $"replace status of the specified {type.Kind}", [FieldValidation()], Body(kindSchema, ["application/json", "application/yaml"]), Response(kindSchema))),
                ("patch", Operation(type, "patch", $"patch{id.Group}{scope}{type.Kind}Status", $"partially update status of the specified {type.Kind}", [FieldValidation()], PatchBody(), Response(kindSchema))));
        }
    }

    /// <summary>Kubernetes' operation ids name the group and version: "CoreV1", "AppsV1",
    /// "RbacAuthorizationV1".</summary>
    private static (string Group, string Tag) OperationSuffix(ResourceType type)
    {
        var group = type.Group.Length == 0 ? "core" : type.Group.Split('.')[0] == "rbac" ? "rbacAuthorization" : type.Group.Split('.')[0];
        var pascal = char.ToUpperInvariant(group[0]) + group[1..] + char.ToUpperInvariant(type.Version[0]) + type.Version[1..];
        return (pascal, char.ToLowerInvariant(pascal[0]) + pascal[1..]);
    }

    private JsonObject Path(string[] pathParameters, params (string Method, JsonObject Operation)[] operations)
    {
        var path = new JsonObject();
        foreach (var (method, operation) in operations)
        {
            path[method] = operation;
        }
        path["parameters"] = new JsonArray(pathParameters.Select(p => (JsonNode)Parameter(p, "path", "string", required: true, $"name of the {(p == "name" ? "object" : p)}")).ToArray());
        return path;
    }

    private JsonObject Operation(ResourceType type, string action, string operationId, string description, JsonObject[] parameters, JsonObject? body, JsonObject responses)
    {
        var operation = new JsonObject
        {
            ["tags"] = new JsonArray(OperationSuffix(type).Tag),
            ["description"] = description,
            ["operationId"] = operationId,
        };
        if (parameters.Length > 0)
        {
            operation["parameters"] = new JsonArray(parameters.Select(p => (JsonNode)p).ToArray());
        }
        if (body is not null)
        {
            if (dialect.IsV3)
            {
                operation["requestBody"] = body;
            }
            else
            {
                operation["consumes"] = body["consumes"]!.DeepClone();
                var parameter = new JsonObject { ["name"] = "body", ["in"] = "body", ["required"] = true, ["schema"] = body["schema"]!.DeepClone() };
                ((JsonArray)(operation["parameters"] ??= new JsonArray())).Add(parameter);
            }
        }
        operation["responses"] = responses;
        operation["x-kubernetes-action"] = action;
        operation["x-kubernetes-group-version-kind"] = new JsonObject { ["group"] = type.Group, ["kind"] = type.Kind, ["version"] = type.Version };
        return operation;
    }

    private JsonObject[] ListParameters() =>
    [
        Query("labelSelector", "string", "A selector to restrict the list of returned objects by their labels."),
        Query("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields."),
        Query("limit", "integer", "The maximum number of objects to return; a continue token follows when there are more."),
        Query("continue", "string", "The token of a previous list call, to get its next chunk."),
        Query("resourceVersion", "string", "Which version of the list to serve, or to watch from."),
        Query("resourceVersionMatch", "string", "How resourceVersion applies to a list: Exact or NotOlderThan."),
        Query("watch", "boolean", "Stream changes (ADDED, MODIFIED, DELETED) instead of listing."),
        Query("allowWatchBookmarks", "boolean", "Let a watch send BOOKMARK events."),
        Query("timeoutSeconds", "integer", "How long a watch lasts."),
    ];

    /// <summary>The parameter kubectl looks for before it leaves field validation to the server.
    /// Every value decodes strictly here: an unknown field is always an error naming it, never
    /// dropped (Kubernetes' Ignore and Warn would drop it).</summary>
    private JsonObject FieldValidation() =>
        Query("fieldValidation", "string", "How the server treats unknown and duplicate fields: this server rejects them whatever the value (Strict).");

    private JsonObject Query(string name, string type, string? description = null) => Parameter(name, "query", type, required: false, description);

    private JsonObject Parameter(string name, string location, string type, bool required, string? description)
    {
        var parameter = new JsonObject { ["name"] = name, ["in"] = location };
        if (description is not null)
        {
            parameter["description"] = description;
        }
        if (required)
        {
            parameter["required"] = true;
        }
        if (dialect.IsV3)
        {
            parameter["schema"] = new JsonObject { ["type"] = type, ["uniqueItems"] = true };
        }
        else
        {
            parameter["type"] = type;
            parameter["uniqueItems"] = true;
        }
        return parameter;
    }

    /// <summary>A request body: v3's requestBody, or (for v2) the schema and media types the
    /// operation turns into a body parameter and "consumes".</summary>
    private JsonObject Body(string schema, string[] mediaTypes) => Body(schemas.Ref(schema), mediaTypes);

    private JsonObject PatchBody() => Body(new JsonObject { ["type"] = "object", ["description"] = "A JSON patch, a JSON merge patch or a strategic merge patch." }, PatchTypes);

    private JsonObject Body(JsonObject schema, string[] mediaTypes)
    {
        if (!dialect.IsV3)
        {
            return new JsonObject { ["schema"] = schema, ["consumes"] = new JsonArray(mediaTypes.Select(m => (JsonNode)m).ToArray()) };
        }
        var content = new JsonObject();
        foreach (var media in mediaTypes)
        {
            content[media] = new JsonObject { ["schema"] = schema.DeepClone() };
        }
        return new JsonObject { ["content"] = content, ["required"] = true };
    }

    private JsonObject Response(string schema, string code = "200")
    {
        var responses = new JsonObject();
        foreach (var status in code == "200" ? ["200"] : new[] { "200", code })
        {
            responses[status] = dialect.IsV3
                ? new JsonObject { ["description"] = status == "201" ? "Created" : "OK", ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = schemas.Ref(schema) }, ["application/yaml"] = new JsonObject { ["schema"] = schemas.Ref(schema) } } }
                : new JsonObject { ["description"] = status == "201" ? "Created" : "OK", ["schema"] = schemas.Ref(schema) };
        }
        responses["401"] = new JsonObject { ["description"] = "Unauthorized" };
        return responses;
    }
}
