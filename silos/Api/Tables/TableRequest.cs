using Microsoft.Net.Http.Headers;
using Orchestrator.Model;

namespace Orchestrator.Silo.Api.Tables;

/// <summary>What a row carries besides its cells (Kubernetes' includeObject): nothing, the
/// object's metadata as a PartialObjectMetadata (the default), or the whole object.</summary>
public enum IncludeObject
{
    None,
    Metadata,
    Object,
}

/// <summary>
/// A request for a meta.k8s.io Table instead of the objects, as kubectl get sends it:
/// <c>Accept: application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json</c>.
/// The media types are tried in the client's order; the first this server can write wins, so a
/// plain application/json before any Table means the objects.
/// </summary>
public sealed record TableRequest(string ApiVersion, IncludeObject Include)
{
    public const string Group = "meta.k8s.io";

    /// <summary>The Table the request asks for, or null when it asks for the objects.</summary>
    public static TableRequest? From(HttpRequest request)
    {
        var accept = request.Headers.Accept.ToString();
        if (accept.Length == 0 || !MediaTypeHeaderValue.TryParseList([accept], out var types))
        {
            return null;
        }
        foreach (var type in types)
        {
            var media = type.MediaType.Value;
            var asParameter = Parameter(type, "as");
            if (asParameter is null)
            {
                if (media is "application/json" or "application/yaml" or "*/*" or "application/*")
                {
                    return null;
                }
                continue;
            }
            if (media == "application/json" && asParameter == "Table" && Parameter(type, "g") == Group && Parameter(type, "v") is "v1" or "v1beta1")
            {
                return new TableRequest($"{Group}/{Parameter(type, "v")}", IncludeFrom(request));
            }
        }
        return null;
    }

    private static string? Parameter(MediaTypeHeaderValue type, string name) =>
        type.Parameters.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))?.Value.Value;

    private static IncludeObject IncludeFrom(HttpRequest request) => request.Query["includeObject"].ToString() switch
    {
        "" or "Metadata" => IncludeObject.Metadata,
        "Object" => IncludeObject.Object,
        "None" => IncludeObject.None,
        var other => throw ApiErrors.BadRequest($"includeObject \"{other}\" is not one of None, Metadata, Object"),
    };
}
