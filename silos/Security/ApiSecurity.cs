using System.Security.Cryptography.X509Certificates;
using Orchestrator.Grains.Security;

namespace Orchestrator.Silo.Security;

/// <summary>
/// Authentication and authorization of every API request, in Kubernetes' order: the credential
/// names a user (the admin token, a ServiceAccount token, a client certificate of the cluster CA;
/// nothing at all is the anonymous user, who may only read the health and version paths), the
/// user may act as another (impersonation, if allowed to), and the authorizer decides on the
/// request as routed. Runs after routing, so the matched endpoint is known.
/// </summary>
public static class ApiSecurity
{
    public static IApplicationBuilder UseApiSecurity(this IApplicationBuilder app)
    {
        app.Use(async (http, next) =>
        {
            var user = await AuthenticateAsync(http);
            http.SetUser(user);
            var attributes = RequestInfo.Of(http, user);
            if (!attributes.IsResourceRequest && RequestInfo.PublicPaths.Contains(attributes.Path))
            {
                http.SetAttributes(attributes);
                await next(http);
                return;
            }
            if (user.IsAnonymous)
            {
                http.SetAttributes(attributes);
                throw SecurityErrors.Unauthorized();
            }
            // Node bootstrap and renewal: the endpoint itself checks the node (NodeCredentialsApi);
            // the bootstrap user may do nothing else at all, whatever RBAC grants its groups.
            if (NodeCredentialsApi.Admits(user, attributes.Path) && http.Request.Headers["Impersonate-User"].Count == 0)
            {
                http.SetAttributes(attributes);
                await next(http);
                return;
            }
            if (user.InGroup(NodeBootstrap.Group))
            {
                http.SetAttributes(attributes);
                throw SecurityErrors.Forbidden(attributes, "a node bootstrap token may only request node credentials");
            }
            var authorizer = http.RequestServices.GetRequiredService<IAuthorizer>();
            var effective = await ImpersonateAsync(http, user, authorizer);
            if (!ReferenceEquals(effective, user))
            {
                http.SetImpersonator(user);
                user = effective;
                http.SetUser(user);
            }
            attributes = attributes with { User = user };
            http.SetAttributes(attributes);
            var decision = await authorizer.AuthorizeAsync(attributes, http.RequestAborted);
            if (!decision.Allowed)
            {
                throw SecurityErrors.Forbidden(attributes, decision.Reason);
            }
            await next(http);
        });
        return app;
    }

    private static async Task<UserInfo> AuthenticateAsync(HttpContext http)
    {
        var header = http.Request.Headers.Authorization.ToString();
        if (header.Length > 0)
        {
            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= "Bearer ".Length)
            {
                throw SecurityErrors.Unauthorized();
            }
            return await AuthenticateTokenAsync(http, header["Bearer ".Length..].Trim());
        }
        var certificate = http.Connection.ClientCertificate ?? await http.Connection.GetClientCertificateAsync(http.RequestAborted);
        if (certificate is not null)
        {
            var credentials = http.RequestServices.GetRequiredService<ClusterCredentials>();
            var time = http.RequestServices.GetRequiredService<TimeProvider>();
            return credentials.Ca.IsClientCertificate(certificate, time.GetUtcNow())
                ? UserOf(certificate)
                : throw SecurityErrors.Unauthorized();
        }
        return UserInfo.Anonymous;
    }

    private static async Task<UserInfo> AuthenticateTokenAsync(HttpContext http, string token)
    {
        // The node bootstrap token is accepted by the API alone (never on a grain call), and there
        // only for the node credentials endpoint.
        if (NodeBootstrap.Authenticate(token, http.RequestServices.GetRequiredService<ClusterCredentials>()) is { } bootstrap)
        {
            return bootstrap;
        }
        return await http.RequestServices.GetRequiredService<BearerTokenAuthentication>().AuthenticateAsync(token, http.RequestAborted)
            ?? throw SecurityErrors.Unauthorized();
    }

    /// <summary>The user a client certificate names: CN is the user, each O a group (as Kubernetes' x509 authenticator).</summary>
    private static UserInfo UserOf(X509Certificate2 certificate)
    {
        var name = "";
        var groups = new List<string>();
        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            var oid = rdn.GetSingleElementType().Value;
            var value = rdn.GetSingleElementValue() ?? "";
            if (oid == "2.5.4.3")
            {
                name = value;
            }
            else if (oid == "2.5.4.10")
            {
                groups.Add(value);
            }
        }
        if (name.Length == 0)
        {
            throw SecurityErrors.Unauthorized();
        }
        groups.Add(SystemGroups.Authenticated);
        return new UserInfo { Name = name, Groups = groups.Distinct().ToList() };
    }

    /// <summary>
    /// Impersonate-User, Impersonate-Group and Impersonate-Uid (kubectl --as, --as-group,
    /// --as-uid): each needs the "impersonate" verb on users, groups, serviceaccounts or uids;
    /// the request then runs as that user, with system:authenticated added as Kubernetes does.
    /// </summary>
    private static async Task<UserInfo> ImpersonateAsync(HttpContext http, UserInfo user, IAuthorizer authorizer)
    {
        var headers = http.Request.Headers;
        var asUser = headers["Impersonate-User"].ToString();
        var asGroups = headers["Impersonate-Group"].Where(g => !string.IsNullOrEmpty(g)).Select(g => g!).ToList();
        var asUid = headers["Impersonate-Uid"].ToString();
        if (asUser.Length == 0)
        {
            if (asGroups.Count > 0 || asUid.Length > 0)
            {
                throw Model.ApiErrors.BadRequest("requested impersonation of groups or a uid without impersonating a user");
            }
            return user;
        }
        async Task CheckAsync(RequestAttributes a)
        {
            var decision = await authorizer.AuthorizeAsync(a, http.RequestAborted);
            if (!decision.Allowed)
            {
                throw SecurityErrors.Forbidden(a, decision.Reason);
            }
        }
        var impersonate = new RequestAttributes { User = user, Verb = "impersonate", IsResourceRequest = true, ApiGroup = "", ApiVersion = "v1" };
        if (asUser.StartsWith(SystemUsers.ServiceAccountPrefix, StringComparison.Ordinal) && asUser[SystemUsers.ServiceAccountPrefix.Length..].Split(':') is [var ns, var sa])
        {
            await CheckAsync(impersonate with { Resource = "serviceaccounts", Namespace = ns, Name = sa });
        }
        else
        {
            await CheckAsync(impersonate with { Resource = "users", Name = asUser });
        }
        foreach (var group in asGroups)
        {
            await CheckAsync(impersonate with { Resource = "groups", Name = group });
        }
        if (asUid.Length > 0)
        {
            await CheckAsync(impersonate with { Resource = "uids", Name = asUid, ApiGroup = "authentication.k8s.io" });
        }
        var groups = new List<string>(asGroups);
        if (asUser != SystemUsers.Anonymous && !groups.Contains(SystemGroups.Authenticated))
        {
            groups.Add(SystemGroups.Authenticated);
        }
        if (asUser.StartsWith(SystemUsers.ServiceAccountPrefix, StringComparison.Ordinal) && asUser[SystemUsers.ServiceAccountPrefix.Length..].Split(':') is [var saNamespace, _])
        {
            groups.Add(SystemGroups.ServiceAccounts);
            groups.Add(SystemGroups.ServiceAccountsOf(saNamespace));
        }
        return new UserInfo
        {
            Name = asUser,
            Groups = groups.Distinct().ToList(),
            Uid = asUid.Length > 0 ? asUid : null,
        };
    }
}
