using System.Text.Json.Nodes;
using Orchestrator.Grains.Kinds;
using Orchestrator.Silo.Api.OpenApi;

namespace Orchestrator.Tests.HttpApi;

/// <summary>The OpenAPI documents generated from the model: every registered kind is described
/// with its group-version-kind, under its JSON field names, with the patch metadata kubectl reads.</summary>
public sealed class OpenApiDocumentTests
{
    private static readonly OpenApiDocuments Documents = OpenApiDocuments.Registered();

    private static JsonObject V3(string groupVersion) => JsonNode.Parse(Documents.V3[groupVersion].Json)!.AsObject();

    private static JsonObject Schemas(string groupVersion) => V3(groupVersion)["components"]!["schemas"]!.AsObject();

    private static JsonObject Property(string groupVersion, string schema, string property) =>
        Schemas(groupVersion)[schema]!["properties"]![property]!.AsObject();

    [Fact]
    public void EveryRegisteredKindHasASchemaWithItsGroupVersionKindInV2AndV3()
    {
        var v2 = JsonNode.Parse(Documents.V2.Json)!["definitions"]!.AsObject();
        foreach (var type in KindRegistry.All.Select(k => k.Type))
        {
            var v3 = Schemas(OpenApiDocuments.GroupVersionPath(type));
            foreach (var definitions in new[] { v2, v3 })
            {
                Assert.Contains(definitions, d => d.Value!["x-kubernetes-group-version-kind"] is JsonArray gvk
                    && gvk.Any(g => (string?)g!["group"] == type.Group && (string?)g["version"] == type.Version && (string?)g["kind"] == type.Kind));
                Assert.Contains(definitions, d => d.Value!["x-kubernetes-group-version-kind"] is JsonArray gvk && gvk.Any(g => (string?)g!["kind"] == type.ListKind));
            }
        }
    }

    [Fact]
    public void TheIndexListsEveryGroupVersionWithItsDocumentsHash()
    {
        var index = JsonNode.Parse(Documents.V3Index.Json)!["paths"]!.AsObject();

        Assert.Equal(Documents.V3.Keys.Order(StringComparer.Ordinal), index.Select(p => p.Key));
        Assert.Equal($"/openapi/v3/apis/apps/v1?hash={Documents.V3["apis/apps/v1"].Hash}", (string?)index["apis/apps/v1"]!["serverRelativeURL"]);
    }

    [Fact]
    public void ListsThatMergeByKeyCarryThePatchMetadata()
    {
        var containers = Property("api/v1", "orch.PodSpec", "containers");
        var ports = Property("api/v1", "orch.Container", "ports");
        var conditions = Property("apis/apps/v1", "orch.DeploymentStatus", "conditions");

        Assert.Equal("merge", (string?)containers["x-kubernetes-patch-strategy"]);
        Assert.Equal("name", (string?)containers["x-kubernetes-patch-merge-key"]);
        Assert.Equal("map", (string?)containers["x-kubernetes-list-type"]);
        Assert.Equal(["name"], containers["x-kubernetes-list-map-keys"]!.AsArray().Select(k => (string?)k));
        Assert.Equal("containerPort", (string?)ports["x-kubernetes-patch-merge-key"]);
        Assert.Equal(["containerPort", "protocol"], ports["x-kubernetes-list-map-keys"]!.AsArray().Select(k => (string?)k));
        Assert.Equal("type", (string?)conditions["x-kubernetes-patch-merge-key"]);
        Assert.Equal("set", (string?)Property("api/v1", "orch.ObjectMeta", "finalizers")["x-kubernetes-list-type"]);
        Assert.Equal("retainKeys", (string?)Property("apis/apps/v1", "orch.DeploymentSpec", "strategy")["x-kubernetes-patch-strategy"]);
        Assert.Equal("merge,retainKeys", (string?)Property("api/v1", "orch.PodSpec", "volumes")["x-kubernetes-patch-strategy"]);
    }

    [Fact]
    public void FieldsHaveTheirJsonNamesTypesAndRequiredness()
    {
        var port = Schemas("api/v1")["orch.ContainerPort"]!.AsObject();
        var container = Schemas("api/v1")["orch.Container"]!.AsObject();
        var strategy = Schemas("apis/apps/v1")["orch.DeploymentStrategy"]!["properties"]!.AsObject();

        Assert.Equal(["containerPort", "hostIP", "hostPort", "name", "protocol"], port["properties"]!.AsObject().Select(p => p.Key));
        Assert.Equal(["containerPort"], port["required"]!.AsArray().Select(r => (string?)r));
        Assert.Equal(["name"], container["required"]!.AsArray().Select(r => (string?)r));
        Assert.Equal("type", (string?)Schemas("api/v1")["orch.Event"]!["properties"]!.AsObject().Single(p => p.Key == "type").Key);
        Assert.Equal("string", (string?)strategy["type"]!["type"]);
        Assert.Equal("RollingUpdate (the default) or Recreate.", (string?)strategy["type"]!["description"]);
        Assert.Equal("#/components/schemas/orch.RollingUpdateDeployment", (string?)strategy["rollingUpdate"]!["allOf"]![0]!["$ref"]);
        // A field without a comment of its own is described by its type's.
        Assert.StartsWith("Kubernetes' ObjectMeta", (string?)Property("apis/apps/v1", "orch.Deployment", "metadata")["description"], StringComparison.Ordinal);
    }

    [Fact]
    public void PatchOperationsDeclareServerSideFieldValidation()
    {
        var patch = V3("apis/apps/v1")["paths"]!["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]!["patch"]!;

        Assert.Equal("Deployment", (string?)patch["x-kubernetes-group-version-kind"]!["kind"]);
        Assert.Equal("patch", (string?)patch["x-kubernetes-action"]);
        Assert.Contains(patch["parameters"]!.AsArray(), p => (string?)p!["name"] == "fieldValidation" && (string?)p["in"] == "query");
    }
}
