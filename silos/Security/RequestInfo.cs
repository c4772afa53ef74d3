using Microsoft.AspNetCore.Routing.Patterns;
using Orchestrator.Grains.Security;

namespace Orchestrator.Silo.Security;

/// <summary>
/// What a request asks to do, read as Kubernetes' RequestInfoFactory reads it, but from the route
/// that matched rather than from the path the client wrote: the literal segments of the matched
/// pattern and the route values the endpoint itself will use. A path the server normalized
/// (<c>pods/%2e%2e</c> is <c>namespaces/default</c> once dot segments are removed) is therefore
/// authorized as what it is served as.
/// </summary>
public static class RequestInfo
{
    /// <summary>Paths anyone may read without credentials, as Kubernetes' system:public-info-viewer.</summary>
    public static readonly IReadOnlySet<string> PublicPaths = new HashSet<string>(StringComparer.Ordinal) { "/healthz", "/livez", "/readyz", "/version", NodeProtocol.NodeJoinToken.CaCertsPath };

    /// <summary>Subresources of a namespace: /api/v1/namespaces/{name}/status is the namespace's.</summary>
    private static readonly HashSet<string> NamespaceSubresources = ["status", "finalize"];

    public static RequestAttributes Of(HttpContext http, UserInfo user)
    {
        var path = http.Request.PathBase.Add(http.Request.Path).Value ?? "/";
        var verb = HttpVerb(http.Request.Method);
        if (http.GetEndpoint() is not RouteEndpoint { RoutePattern: var pattern })
        {
            return new RequestAttributes { User = user, Verb = verb, Path = path };
        }
        var segments = pattern.PathSegments.Select(s => SegmentValue(http, s)).ToList();
        List<string> rest;
        string group, version;
        if (segments.Count >= 3 && segments[0] == "apis")
        {
            (group, version, rest) = (segments[1], segments[2], segments[3..]);
        }
        else if (segments.Count >= 2 && segments[0] == "api")
        {
            (group, version, rest) = ("", segments[1], segments[2..]);
        }
        else
        {
            return new RequestAttributes { User = user, Verb = verb, Path = path };
        }
        if (rest.Count == 0)
        {
            // Discovery of a group version (/api/v1, /apis/apps/v1).
            return new RequestAttributes { User = user, Verb = verb, Path = path };
        }
        var ns = "";
        if (rest[0] == "namespaces" && rest.Count > 1)
        {
            ns = rest[1];
            if (rest.Count > 2 && !NamespaceSubresources.Contains(rest[2]))
            {
                rest = rest[2..];
            }
        }
        var name = rest.Count > 1 ? rest[1] : "";
        if (name.Length == 0)
        {
            verb = verb switch
            {
                "get" => IsTrue(http.Request.Query["watch"]) ? "watch" : "list",
                "delete" => "deletecollection",
                _ => verb,
            };
        }
        return new RequestAttributes
        {
            User = user,
            Verb = verb,
            IsResourceRequest = true,
            Path = path,
            ApiGroup = group,
            ApiVersion = version,
            Resource = rest[0],
            Subresource = rest.Count > 2 ? rest[2] : "",
            Namespace = ns,
            Name = name,
        };
    }

    private static string SegmentValue(HttpContext http, RoutePatternPathSegment segment)
    {
        if (segment.Parts is [RoutePatternLiteralPart literal])
        {
            return literal.Content;
        }
        if (segment.Parts is [RoutePatternParameterPart parameter])
        {
            return http.GetRouteValue(parameter.Name)?.ToString() ?? "";
        }
        // A segment mixing literals and parameters: the API has none; keep the whole raw value.
        return string.Concat(segment.Parts.Select(p => p switch
        {
            RoutePatternLiteralPart l => l.Content,
            RoutePatternParameterPart p2 => http.GetRouteValue(p2.Name)?.ToString() ?? "",
            _ => "",
        }));
    }

    private static string HttpVerb(string method) => method.ToUpperInvariant() switch
    {
        "GET" or "HEAD" => "get",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => method.ToLowerInvariant(),
    };

    private static bool IsTrue(string? value) => value is "true" or "1";
}
