using Orchestrator.Model;

namespace Orchestrator.Grains.Security;

/// <summary>The 401 and 403 answers, worded as Kubernetes words them.</summary>
public static class SecurityErrors
{
    public static ApiException Unauthorized() => new(new ApiStatus { Code = 401, Reason = "Unauthorized", Message = "Unauthorized" });

    /// <summary>Kubernetes' forbidden message: <c>pods "web" is forbidden: User "jane" cannot get
    /// resource "pods" in API group "" in the namespace "default"</c>.</summary>
    public static ApiException Forbidden(RequestAttributes a, string reason)
    {
        var user = a.User.Name;
        string detail;
        if (!a.IsResourceRequest)
        {
            detail = $"User \"{user}\" cannot {a.Verb} path \"{a.Path}\"";
        }
        else
        {
            var resource = a.Subresource.Length > 0 ? $"{a.Resource}/{a.Subresource}" : a.Resource;
            detail = a.Namespace.Length > 0
                ? $"User \"{user}\" cannot {a.Verb} resource \"{resource}\" in API group \"{a.ApiGroup}\" in the namespace \"{a.Namespace}\""
                : $"User \"{user}\" cannot {a.Verb} resource \"{resource}\" in API group \"{a.ApiGroup}\" at the cluster scope";
        }
        if (reason.Length > 0)
        {
            detail += ": " + reason;
        }
        var qualified = !a.IsResourceRequest ? "" : a.ApiGroup.Length > 0 ? $"{a.Resource}.{a.ApiGroup}" : a.Resource;
        var message = qualified.Length == 0 ? $"forbidden: {detail}"
            : a.Name.Length > 0 ? $"{qualified} \"{a.Name}\" is forbidden: {detail}"
            : $"{qualified} is forbidden: {detail}";
        return new ApiException(new ApiStatus
        {
            Code = 403,
            Reason = StatusReason.Forbidden,
            Message = message,
            Details = new StatusDetails { Name = a.Name.Length > 0 ? a.Name : null, Group = a.ApiGroup, Kind = a.Resource.Length > 0 ? a.Resource : null },
        });
    }
}
