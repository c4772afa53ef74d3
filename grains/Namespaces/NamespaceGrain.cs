using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Kinds;
using Orchestrator.Grains.Resources;
using Orchestrator.Model;

namespace Orchestrator.Grains.Namespaces;

/// <summary>
/// A namespace. Deleting one marks it Terminating (no new objects may be created in it), then
/// its controller deletes everything in it and removes it once it is empty, as Kubernetes'
/// namespace controller does. While it is active it has a ServiceAccount "default", created with
/// the namespace and again whenever it is deleted (Kubernetes' serviceaccounts controller).
/// </summary>
[GrainType("namespace")]
public sealed class NamespaceGrain(
    GrainServices services)
    : ReconcilerGrain<Namespace>(services), INamespaceGrain
{
    /// <summary>Namespaces the system needs; Kubernetes refuses to delete them too.</summary>
    public static readonly string[] Protected = [WellKnown.DefaultNamespace, WellKnown.SystemNamespace, "kube-public"];

    /// <summary>Every namespaced kind, owners first (the registry lists a kind after the kinds it
    /// owns), so a workload is gone before its pods and does not replace them.</summary>
    private static readonly NamespacedKind[] Contents =
        KindRegistry.All.Reverse().Where(k => k.Type.Namespaced).Select(k => k.Accept(NamespacedKind.Of)).ToArray();

    protected override async Task<DeleteResult<Namespace>> DeleteCoreAsync(Namespace current, DeleteOptions options)
    {
        if (Protected.Contains(KeyParts.Name))
        {
            throw ApiErrors.Forbidden(Namespace.Type, KeyParts.Name, "this namespace may not be deleted");
        }
        var marked = await MarkDeletingAsync(current, addFinalizer: null);
        if (marked.Status?.Phase != "Terminating")
        {
            marked = await WriteStatusAsync(marked with { Status = new NamespaceStatus { Phase = "Terminating" } }) ?? marked;
        }
        return new DeleteResult<Namespace>(marked, Finished: false);
    }

    /// <summary>A namespace never goes at once: it would be Terminating while its contents go.</summary>
    protected override DeleteResult<Namespace> DryRunDelete(Namespace current, DeleteOptions options)
    {
        if (Protected.Contains(KeyParts.Name))
        {
            throw ApiErrors.Forbidden(Namespace.Type, KeyParts.Name, "this namespace may not be deleted");
        }
        return new DeleteResult<Namespace>(MarkedDeleting(current, gracePeriodSeconds: null) with { Status = new NamespaceStatus { Phase = "Terminating" } }, Finished: false);
    }

    protected override async Task<ReconcileResult> ReconcileAsync(Namespace ns)
    {
        if (!ns.Metadata.IsDeleting)
        {
            await EnsureDefaultServiceAccountAsync(GrainFactory, KeyParts.Name);
            return ReconcileResult.Done;
        }
        var remaining = 0;
        foreach (var kind in Contents)
        {
            remaining += await kind.DeleteAllAsync(GrainFactory, KeyParts.Name);
        }
        if (remaining > 0)
        {
            // Pods terminate gracefully; look again soon.
            return ReconcileResult.After(TimeSpan.FromSeconds(1));
        }
        await RemoveAsync(ns);
        return ReconcileResult.Done;
    }

    /// <summary>Creates the namespace's "default" ServiceAccount unless it exists. Also called by
    /// pod admission for a pod that arrives before this controller's first pass.</summary>
    public static async Task EnsureDefaultServiceAccountAsync(IGrainFactory grains, string ns)
    {
        var grain = grains.GetGrain<IServiceAccountGrain>(ServiceAccount.Type.Key(ns, ServiceAccount.DefaultName));
        if (await grain.GetAsync() is not null)
        {
            return;
        }
        try
        {
            await grain.CreateAsync(new ServiceAccount { Metadata = new ObjectMeta { Name = ServiceAccount.DefaultName, Namespace = ns } });
        }
        catch (ApiException ex) when (ex.Reason is StatusReason.AlreadyExists or StatusReason.Forbidden)
        {
            // Someone else made it, or the namespace began terminating meanwhile.
        }
    }

    private abstract class NamespacedKind
    {
        public static readonly IKindVisitor<NamespacedKind> Of = new Factory();

        private sealed class Factory : IKindVisitor<NamespacedKind>
        {
            public NamespacedKind Visit<T>(Kind<T> kind) where T : class, IResource<T> => new NamespacedKind<T>();
        }

        /// <summary>Asks every object of the kind in the namespace to go; returns how many remain.</summary>
        public abstract Task<int> DeleteAllAsync(IGrainFactory grains, string ns);
    }

    private sealed class NamespacedKind<T> : NamespacedKind where T : class, IResource<T>
    {
        public override async Task<int> DeleteAllAsync(IGrainFactory grains, string ns)
        {
            var list = await grains.GetGrain<IResourceIndexGrain<T>>(T.Type.Plural).ListAsync(ResourceQuery.InNamespace(ns));
            foreach (var obj in list.Items.Where(o => !o.Metadata.IsDeleting))
            {
                try
                {
                    await grains.GetGrain<IResourceGrain<T>>(obj.Key()).DeleteAsync(DeleteOptions.Default);
                }
                catch (ApiException ex) when (ex.Code == 404)
                {
                }
            }
            return list.Items.Count;
        }
    }
}
