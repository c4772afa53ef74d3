using System.Collections.Concurrent;
using Orchestrator.GrainInterfaces;
using Orchestrator.NodeProtocol;

namespace Orchestrator.Grains.Security;

/// <summary>
/// Runs on every grain call a silo process makes (its grains' and its HTTP API's). A call to a
/// grain carries the <see cref="InternalCallMarker"/>, set here whatever the RequestContext held
/// before (a client's call flows its RequestContext into the calls its grain makes; a forged
/// marker is thereby replaced by the real one, and those nested calls are the control plane's
/// own). A call to a client (a node agent's endpoint, any observer) must never carry the marker
/// nor a token that flowed in from another client: both are removed, and the
/// <see cref="ControlPlaneCallProof"/> the agent checks is added instead.
/// </summary>
/// <remarks>RequestContext changes made here stay in this call's flow: the calling grain's own
/// RequestContext is unchanged afterwards.</remarks>
public sealed class InternalCallStampFilter(InternalCallMarker marker, ControlPlaneProofs proofs) : IOutgoingGrainCallFilter
{
    public Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.TargetId.IsClient())
        {
            RequestContext.Remove(InternalCallMarker.Key);
            RequestContext.Remove(CallCredentials.TokenKey);
            if (proofs.For(context.TargetId) is { } proof)
            {
                RequestContext.Set(ControlPlaneCallProof.Key, proof);
            }
        }
        else
        {
            RequestContext.Set(InternalCallMarker.Key, marker.Value);
        }
        return context.Invoke();
    }
}

/// <summary>
/// This silo's <see cref="ControlPlaneCallProof"/>s, signed with its silo certificate. One proof
/// per target is reused for half its lifetime, so a log follow that reads every second signs
/// about once a minute rather than on every read. A host without a silo certificate (none
/// registered) sends none.
/// </summary>
public sealed class ControlPlaneProofs(TimeProvider time, SiloCertificate? silo = null)
{
    private readonly ConcurrentDictionary<GrainId, (string Proof, DateTimeOffset RenewAt)> _proofs = new();

    public string? For(GrainId target)
    {
        if (silo is null)
        {
            return null;
        }
        var now = time.GetUtcNow();
        if (_proofs.TryGetValue(target, out var cached) && now < cached.RenewAt)
        {
            return cached.Proof;
        }
        if (_proofs.Count > 10_000)
        {
            // Targets come and go with agents' connections; forget them all now and then.
            _proofs.Clear();
        }
        var proof = ControlPlaneCallProof.Create(silo.Certificate, target.ToString(), now);
        _proofs[target] = (proof, now + ControlPlaneCallProof.Lifetime / 2);
        return proof;
    }
}

/// <summary>The certificate this silo got from the cluster CA at start (its TLS identity towards
/// other silos, and the key of its <see cref="ControlPlaneCallProof"/>s).</summary>
public sealed class SiloCertificate(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
{
    public System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate { get; } = certificate;
}
