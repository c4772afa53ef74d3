namespace Orchestrator.GrainInterfaces;

/// <summary>
/// How a grain client says who it is on each call. The gateway's mutual TLS proves that a
/// connection holds a certificate of the cluster CA, but a grain never sees the connection its
/// call came in on, so every client call also carries a bearer token (the admin token of a
/// kubeconfig, or the token a node agent got with its certificate) in the Orleans
/// RequestContext under <see cref="TokenKey"/>. The control plane authenticates it as the HTTP
/// API does and authorizes the call as the request it stands for.
/// </summary>
public static class CallCredentials
{
    /// <summary>The RequestContext key of the caller's bearer token.</summary>
    public const string TokenKey = "orchestrator.token";
}
