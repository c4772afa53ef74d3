using System.Text.Json.Nodes;
using Orchestrator.Model;

namespace Orchestrator.Silo.Api;

/// <summary>Kubernetes' discovery documents (/api, /apis, /api/v1, /apis/apps/v1) and /version,
/// so clients can find out which kinds this server serves.</summary>
public static class Discovery
{
    /// <summary>The Kubernetes version whose API this server speaks (kubectl warns when it is more
    /// than one minor version from its own).</summary>
    public const string ServerVersion = "v1.32.0-orchestrator";

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api", () => JsonBody.Of(new JsonObject
        {
            ["kind"] = "APIVersions",
            ["versions"] = new JsonArray("v1"),
            ["serverAddressByClientCIDRs"] = new JsonArray(),
        }));
        app.MapGet("/apis", () => JsonBody.Of(new JsonObject
        {
            ["kind"] = "APIGroupList",
            ["apiVersion"] = "v1",
            ["groups"] = new JsonArray(Groups().Select(g => (JsonNode)new JsonObject
            {
                ["name"] = g,
                ["versions"] = new JsonArray(new JsonObject { ["groupVersion"] = $"{g}/v1", ["version"] = "v1" }),
                ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{g}/v1", ["version"] = "v1" },
            }).ToArray()),
        }));
        app.MapGet("/api/v1", () => JsonBody.Of(ResourceList("v1", "")));
        foreach (var group in Groups())
        {
            app.MapGet($"/apis/{group}/v1", () => JsonBody.Of(ResourceList($"{group}/v1", group)));
        }
        app.MapGet("/version", () => JsonBody.Of(new JsonObject
        {
            ["major"] = "1",
            ["minor"] = "32",
            ["gitVersion"] = ServerVersion,
            ["platform"] = $"{Environment.OSVersion.Platform}/{System.Runtime.InteropServices.RuntimeInformation.OSArchitecture}".ToLowerInvariant(),
        }));
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/livez", () => Results.Text("ok"));
        app.MapGet("/readyz", () => Results.Text("ok"));
    }

    /// <summary>The subresources of one kind each, mapped by their own endpoint classes, as
    /// Kubernetes lists them (kubectl looks for serviceaccounts/token before creating a token).</summary>
    private static readonly (ResourceType Owner, string Name, string Group, string Version, string Kind, string[] Verbs)[] KindSubresources =
    [
        (ResourceTypes.Pod, "log", "", "", "Pod", ["get"]),
        (ResourceTypes.Pod, "eviction", "policy", "v1", "Eviction", ["create"]),
        (ResourceTypes.ServiceAccount, "token", "authentication.k8s.io", "v1", "TokenRequest", ["create"]),
    ];

    private static IEnumerable<string> Groups() => Grains.Kinds.KindRegistry.All.Select(k => k.Type.Group)
        .Append(Security.AccessReviewApi.Group).Where(g => g.Length > 0).Distinct();

    private static JsonObject ResourceList(string groupVersion, string group)
    {
        var resources = new JsonArray();
        foreach (var t in Grains.Kinds.KindRegistry.All.Select(k => k.Type).Where(t => t.Group == group))
        {
            resources.Add(new JsonObject
            {
                ["name"] = t.Plural,
                ["singularName"] = t.Singular,
                ["namespaced"] = t.Namespaced,
                ["kind"] = t.Kind,
                ["verbs"] = new JsonArray("create", "delete", "get", "list", "patch", "update", "watch"),
                ["shortNames"] = new JsonArray((t.ShortNames ?? []).Select(s => (JsonNode)s).ToArray()),
            });
            if (t.HasStatus)
            {
                resources.Add(new JsonObject { ["name"] = t.Plural + "/status", ["singularName"] = "", ["namespaced"] = t.Namespaced, ["kind"] = t.Kind, ["verbs"] = new JsonArray("get", "patch", "update") });
            }
            if (t.HasScale)
            {
                resources.Add(new JsonObject
                {
                    ["name"] = t.Plural + "/scale",
                    ["singularName"] = "",
                    ["namespaced"] = t.Namespaced,
                    ["group"] = "autoscaling",
                    ["version"] = "v1",
                    ["kind"] = "Scale",
                    ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }
            foreach (var sub in KindSubresources.Where(s => s.Owner == t))
            {
                var entry = new JsonObject { ["name"] = $"{t.Plural}/{sub.Name}", ["singularName"] = "", ["namespaced"] = t.Namespaced };
                if (sub.Group.Length > 0)
                {
                    entry["group"] = sub.Group;
                    entry["version"] = sub.Version;
                }
                entry["kind"] = sub.Kind;
                entry["verbs"] = new JsonArray(sub.Verbs.Select(v => (JsonNode)v).ToArray());
                resources.Add(entry);
            }
        }
        // Resources that are questions rather than stored objects: create only (kubectl auth can-i
        // looks for them here before it asks).
        foreach (var t in Security.AccessReviewApi.Resources.Where(t => t.Group == group))
        {
            resources.Add(new JsonObject
            {
                ["name"] = t.Plural,
                ["singularName"] = t.Singular,
                ["namespaced"] = t.Namespaced,
                ["kind"] = t.Kind,
                ["verbs"] = new JsonArray("create"),
            });
        }
        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = groupVersion,
            ["resources"] = resources,
        };
    }
}
