using Orchestrator.Client.Hosting;
using Orchestrator.GrainInterfaces;

namespace Orchestrator.Calls;

/// <summary>
/// Puts this client's bearer token into the RequestContext of every grain call it makes
/// (<see cref="CallCredentials.TokenKey"/>): the gateway's TLS admits the connection, the token
/// says who makes each call. Read from the credentials on each call, so a renewed token is used
/// from the next call on.
/// </summary>
internal sealed class CallTokenFilter(ClientCredentialsSource source) : IOutgoingGrainCallFilter
{
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        // In an async method, so the value is scoped to this call and does not leak into the caller's context.
        if (source.Current?.Token is { Length: > 0 } token)
        {
            RequestContext.Set(CallCredentials.TokenKey, token);
        }
        await context.Invoke();
    }
}
