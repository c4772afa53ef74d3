using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Resources;
using Orchestrator.Model;

namespace Orchestrator.Grains.ServiceAccounts;

/// <summary>
/// A ServiceAccount. It has no controller of its own; the namespace's controller keeps the
/// "default" one in place (Kubernetes' serviceaccounts controller), so removing that one tells
/// the namespace, which creates it again while the namespace is active.
/// </summary>
[GrainType("serviceaccount")]
public sealed class ServiceAccountGrain(
    GrainServices services)
    : ResourceGrain<ServiceAccount>(services), IServiceAccountGrain
{
    protected override async Task OnRemovedAsync(ServiceAccount last)
    {
        await base.OnRemovedAsync(last);
        if (KeyParts.Name == ServiceAccount.DefaultName && KeyParts.Namespace is { } ns)
        {
            await GrainFactory.GetGrain<INamespaceGrain>(ns).AsReference<IReconciler>().PokeAsync();
        }
    }
}
