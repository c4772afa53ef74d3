using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestrator.GrainInterfaces;

namespace Orchestrator.Grains.Security;

/// <summary>"Orchestrator:Security:AuthorizeGrainCalls".</summary>
public sealed class GrainCallAuthorizationOptions
{
    public const string Section = "Orchestrator:Security";

    /// <summary>Authenticate and authorize every grain call a client makes (default true). Off
    /// only while clients that send no token (<see cref="CallCredentials.TokenKey"/>) are still
    /// in use: every client can then do anything the grains allow.</summary>
    public bool AuthorizeGrainCalls { get; set; } = true;
}

/// <summary>
/// The gateway's authentication and authorization, on every grain call a silo receives. A call
/// made inside the control plane carries the <see cref="InternalCallMarker"/> and passes at
/// once (a dictionary lookup and a constant-time compare). Any other call is a client's: it must
/// carry a bearer token (<see cref="CallCredentials.TokenKey"/>; none, or one no authenticator
/// accepts: 401), and the authorizer the HTTP API uses must allow the request the call stands
/// for (<see cref="GrainCallRequests"/>; else 403 worded as the API words it). Calls to
/// observers hosted in a silo are the silo's own business and are not checked here.
/// </summary>
public sealed partial class GrainCallAuthorizationFilter(
    InternalCallMarker marker,
    BearerTokenAuthentication authentication,
    IAuthorizer authorizer,
    INodeGraph graph,
    IOptions<GrainCallAuthorizationOptions> options,
    ILogger<GrainCallAuthorizationFilter> logger) : IIncomingGrainCallFilter
{
    /// <summary>
    /// Orleans delivers a grain timer's tick to its grain as a message that no outgoing filter
    /// sees, so it carries no marker. Its request is a private class of the runtime, with no
    /// serializer: no client can send one, so the type alone proves the tick is local.
    /// </summary>
    private static readonly Type? TimerTick = Type.GetType("Orleans.Runtime.GrainTimer+TimerTickInvoker, Orleans.Runtime");

    private readonly bool _enabled = options.Value.AuthorizeGrainCalls;

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (!_enabled || context.TargetId.IsClient() || marker.Matches(RequestContext.Get(InternalCallMarker.Key))
            || context.Request.GetType() == TimerTick)
        {
            return context.Invoke();
        }
        return AuthorizeAndInvokeAsync(context);
    }

    private async Task AuthorizeAndInvokeAsync(IIncomingGrainCallContext context)
    {
        var shape = GrainCallRequests.ShapeOf(context.InterfaceMethod);
        if (shape.Access != GrainCallAccess.Public)
        {
            var user = RequestContext.Get(CallCredentials.TokenKey) is string { Length: > 0 } token
                ? await authentication.AuthenticateCachedAsync(token)
                : null;
            if (user is null)
            {
                LogUnauthenticated(logger, context.InterfaceName, context.MethodName);
                throw SecurityErrors.Unauthorized();
            }
            var request = GrainCallRequests.Attributes(shape, user, context.TargetId.Key.ToString() ?? "", i => context.Request.GetArgument(i));
            var decision = await AuthorizeAsync(shape, request, context);
            if (!decision.Allowed)
            {
                LogForbidden(logger, user.Name, context.InterfaceName, context.MethodName, decision.Reason);
                throw SecurityErrors.Forbidden(request, decision.Reason);
            }
        }
        await context.Invoke();
    }

    private async ValueTask<AuthorizationDecision> AuthorizeAsync(GrainCallShape shape, RequestAttributes request, IIncomingGrainCallContext context)
    {
        var user = request.User;
        if (user.InGroup(SystemGroups.Masters))
        {
            return AuthorizationDecision.Allow();
        }
        var node = user.NodeName;
        var reportedNode = shape.NodeArgument >= 0 ? context.Request.GetArgument(shape.NodeArgument) as string : null;
        switch (shape.Access)
        {
            case GrainCallAccess.Resource:
                return await authorizer.AuthorizeAsync(request);
            case GrainCallAccess.NodeReport:
                // A node reports as itself only; the request it stands for then needs the pod bound to it.
                return node is not null && reportedNode != node
                    ? AuthorizationDecision.Deny($"node \"{node}\" may only report as itself")
                    : await authorizer.AuthorizeAsync(request);
            case GrainCallAccess.PodServiceAccountToken:
                var (ns, pod) = GrainCallRequests.Split(Model.ResourceTypes.Pod, context.TargetId.Key.ToString() ?? "");
                return node is not null && reportedNode == node && await graph.IsPodBoundAsync(node, ns, pod, CancellationToken.None)
                    ? AuthorizationDecision.Allow("token for a pod bound to the node")
                    : AuthorizationDecision.Deny($"only the node pod \"{pod}\" is bound to may ask for its ServiceAccount token");
            case GrainCallAccess.Authenticated:
                return AuthorizationDecision.Allow();
            default:
                return AuthorizationDecision.Deny("the control plane's own interface");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a grain call without valid credentials: {Interface}.{Method}")]
    private static partial void LogUnauthenticated(ILogger logger, string @interface, string method);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a grain call of {User}: {Interface}.{Method}: {Reason}")]
    private static partial void LogForbidden(ILogger logger, string user, string @interface, string method, string reason);
}
