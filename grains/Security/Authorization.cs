namespace Orchestrator.Grains.Security;

/// <summary>
/// What a request asks to do, as the API routed it (Kubernetes' RequestInfo with the user):
/// the authorizer decides on these attributes, never on the path as the client wrote it.
/// </summary>
public sealed record RequestAttributes
{
    public required UserInfo User { get; init; }

    /// <summary>Kubernetes' verb: get, list, watch, create, update, patch, delete, deletecollection,
    /// or for non-resource requests the lower-case HTTP method; "impersonate" for --as.</summary>
    public required string Verb { get; init; }

    /// <summary>True for an object of a kind (a resource request); false for /healthz, /version,
    /// discovery and other non-resource URLs, which RBAC matches by <see cref="Path"/>.</summary>
    public bool IsResourceRequest { get; init; }

    /// <summary>The request path (non-resource requests), as routed.</summary>
    public string Path { get; init; } = "";

    /// <summary>API group ("" for the core group, "apps", ...).</summary>
    public string ApiGroup { get; init; } = "";

    public string ApiVersion { get; init; } = "";

    /// <summary>The resource's plural name ("pods"), or for impersonation "users"/"groups"/"serviceaccounts".</summary>
    public string Resource { get; init; } = "";

    /// <summary>"status", "scale", "log", "eviction", "token", ... or empty.</summary>
    public string Subresource { get; init; } = "";

    /// <summary>The namespace, or empty for cluster-scoped kinds and requests across namespaces.</summary>
    public string Namespace { get; init; } = "";

    /// <summary>The object's name, or empty for list, watch and create.</summary>
    public string Name { get; init; } = "";
}

/// <summary>An authorizer's answer: allowed, or denied with a reason for the 403 message.</summary>
public sealed record AuthorizationDecision(bool Allowed, string Reason)
{
    public static AuthorizationDecision Allow(string reason = "") => new(true, reason);

    public static AuthorizationDecision Deny(string reason) => new(false, reason);
}

/// <summary>Decides whether a user may do what a request asks (RBAC, node restriction).</summary>
public interface IAuthorizer
{
    ValueTask<AuthorizationDecision> AuthorizeAsync(RequestAttributes request, CancellationToken cancellationToken = default);
}
