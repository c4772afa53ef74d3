using Orchestrator.Model;

namespace Orchestrator.Grains.Security;

/// <summary>
/// Kubernetes' Node authorizer and NodeRestriction admission in one, in front of RBAC: what a
/// node credential ("system:node:NAME" in system:nodes) may do is decided by the node's own
/// objects, never by roles. A node may
/// <list type="bullet">
/// <item>read (get, list, watch) nodes, pods, services, endpoints, namespaces and
/// serviceaccounts (Kubernetes' system:node role);</item>
/// <item>create, update, patch and delete its own Node and its status, no other;</item>
/// <item>update and patch the status of pods bound to it, and delete them (the kubelet deletes a
/// pod once it has stopped it, and evicts; NodeRestriction allows exactly the node's own);</item>
/// <item>create, update and patch events;</item>
/// <item>create tokens for the ServiceAccounts of pods bound to it;</item>
/// <item>get the Secrets and ConfigMaps that pods bound to it reference
/// (<see cref="PodReferences"/>).</item>
/// </list>
/// Anything else on nodes, pods, secrets, configmaps and serviceaccount tokens is refused here,
/// whatever RBAC says; other requests of a node, and every request of other users, go to the
/// next authorizer (RBAC), as Kubernetes chains Node,RBAC.
/// </summary>
/// <param name="referencesOf">What a pod references (default <see cref="PodReferences.Of"/>);
/// tests pass their own until the model has references.</param>
public sealed class NodeAuthorizer(INodeGraph graph, IAuthorizer next, Func<Pod, IReadOnlyCollection<PodReference>>? referencesOf = null) : IAuthorizer
{
    private readonly Func<Pod, IReadOnlyCollection<PodReference>> _referencesOf = referencesOf ?? PodReferences.Of;

    /// <summary>What Kubernetes' system:node role lets every node read.</summary>
    private static readonly HashSet<string> Readable = ["nodes", "pods", "services", "endpoints", "namespaces", "serviceaccounts"];

    private static readonly HashSet<string> ReadVerbs = ["get", "list", "watch"];

    public async ValueTask<AuthorizationDecision> AuthorizeAsync(RequestAttributes request, CancellationToken cancellationToken = default)
    {
        if (request.User.NodeName is not { } node || !request.IsResourceRequest || request.ApiGroup.Length > 0)
        {
            return await next.AuthorizeAsync(request, cancellationToken);
        }
        if (ReadVerbs.Contains(request.Verb) && Readable.Contains(request.Resource) && request.Subresource is "" or "status")
        {
            return AuthorizationDecision.Allow("node reads");
        }
        return request.Resource switch
        {
            "nodes" => OwnNode(request, node),
            "pods" => await BoundPodAsync(request, node, cancellationToken),
            "events" => request.Verb is "create" or "update" or "patch" && request.Subresource.Length == 0
                ? AuthorizationDecision.Allow("node events")
                : AuthorizationDecision.Deny($"node \"{node}\" may only create, update and patch events"),
            "serviceaccounts" when request.Subresource == "token" => await ServiceAccountTokenAsync(request, node, cancellationToken),
            "secrets" or "configmaps" => await ReferencedAsync(request, node, cancellationToken),
            _ => await next.AuthorizeAsync(request, cancellationToken),
        };
    }

    private static AuthorizationDecision OwnNode(RequestAttributes request, string node)
    {
        if (request.Verb is not ("create" or "update" or "patch" or "delete") || request.Subresource is not ("" or "status"))
        {
            // nodes/proxy (logs, exec) is the control plane's way into a node, not a node's.
            return AuthorizationDecision.Deny($"node \"{node}\" may not {request.Verb} nodes/{request.Subresource}");
        }
        return request.Name == node
            ? AuthorizationDecision.Allow("node's own Node")
            : AuthorizationDecision.Deny($"node \"{node}\" may only change its own Node object");
    }

    private async ValueTask<AuthorizationDecision> BoundPodAsync(RequestAttributes request, string node, CancellationToken cancellationToken)
    {
        var allowedVerb = request.Subresource == "status" ? request.Verb is "update" or "patch" : request.Subresource.Length == 0 && request.Verb == "delete";
        if (allowedVerb && request.Name.Length > 0 && await graph.IsPodBoundAsync(node, request.Namespace, request.Name, cancellationToken))
        {
            return AuthorizationDecision.Allow("pod bound to the node");
        }
        return AuthorizationDecision.Deny($"node \"{node}\" may only update the status of and delete pods bound to it");
    }

    private async ValueTask<AuthorizationDecision> ServiceAccountTokenAsync(RequestAttributes request, string node, CancellationToken cancellationToken)
    {
        if (request.Verb == "create" && request.Name.Length > 0)
        {
            foreach (var pod in await graph.PodsOnNodeAsync(node, cancellationToken))
            {
                if (pod.Metadata.Namespace == request.Namespace && ServiceAccountOf(pod) == request.Name)
                {
                    return AuthorizationDecision.Allow("ServiceAccount of a pod bound to the node");
                }
            }
        }
        return AuthorizationDecision.Deny($"node \"{node}\" may only create tokens for ServiceAccounts of pods bound to it");
    }

    private async ValueTask<AuthorizationDecision> ReferencedAsync(RequestAttributes request, string node, CancellationToken cancellationToken)
    {
        if (request.Verb == "get" && request.Subresource.Length == 0 && request.Name.Length > 0)
        {
            foreach (var pod in await graph.PodsOnNodeAsync(node, cancellationToken))
            {
                if (pod.Metadata.Namespace == request.Namespace && _referencesOf(pod).Contains(new PodReference(request.Resource, request.Name)))
                {
                    return AuthorizationDecision.Allow($"{request.Resource} referenced by a pod bound to the node");
                }
            }
        }
        return AuthorizationDecision.Deny($"node \"{node}\" may only get {request.Resource} that pods bound to it reference");
    }

    private static string ServiceAccountOf(Pod pod) =>
        string.IsNullOrEmpty(pod.Spec.ServiceAccountName) ? ServiceAccount.DefaultName : pod.Spec.ServiceAccountName;
}

/// <summary>A Secret or ConfigMap a pod uses, by resource plural and name (in the pod's namespace).</summary>
public readonly record struct PodReference(string Resource, string Name);

/// <summary>
/// The Secrets and ConfigMaps a pod references: what the Node authorizer's graph links a node
/// to. The model has no such references yet (secret and configMap volumes, env valueFrom and
/// envFrom arrive with those kinds, issue #14), so every pod references none and nodes can read
/// no Secret or ConfigMap; #14 fills in <see cref="Of"/>, and the rule that uses it stands.
/// </summary>
public static class PodReferences
{
    public static IReadOnlyCollection<PodReference> Of(Pod pod) => [];
}

/// <summary>The part of Kubernetes' node graph the <see cref="NodeAuthorizer"/> needs: which pods
/// are bound to a node.</summary>
public interface INodeGraph
{
    ValueTask<bool> IsPodBoundAsync(string node, string ns, string name, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<Pod>> PodsOnNodeAsync(string node, CancellationToken cancellationToken);
}
