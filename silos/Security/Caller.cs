using Orchestrator.Grains.Security;

namespace Orchestrator.Silo.Security;

/// <summary>The authenticated user of a request and what the request asks, set by the security
/// middleware before any endpoint runs.</summary>
public static class Caller
{
    private sealed record UserFeature(UserInfo User);

    private sealed record ImpersonatorFeature(UserInfo User);

    private sealed record AttributesFeature(RequestAttributes Attributes);

    public static UserInfo User(this HttpContext http) => http.Features.Get<UserFeature>()?.User ?? UserInfo.Anonymous;

    public static void SetUser(this HttpContext http, UserInfo user) => http.Features.Set(new UserFeature(user));

    /// <summary>Who authenticated, when the request acts as another user (impersonation); else null.</summary>
    public static UserInfo? Impersonator(this HttpContext http) => http.Features.Get<ImpersonatorFeature>()?.User;

    public static void SetImpersonator(this HttpContext http, UserInfo user) => http.Features.Set(new ImpersonatorFeature(user));

    /// <summary>The request's attributes as the authorizer saw them (null before authorization ran,
    /// or for a request that did not reach it).</summary>
    public static RequestAttributes? Attributes(this HttpContext http) => http.Features.Get<AttributesFeature>()?.Attributes;

    public static void SetAttributes(this HttpContext http, RequestAttributes attributes) => http.Features.Set(new AttributesFeature(attributes));
}
