using Microsoft.Extensions.Logging;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.Grains.Resources;

/// <summary>
/// Kubernetes' garbage collector, for one owner at a time: finds the objects whose
/// ownerReferences name the owner's uid and deletes them, or with the Orphan policy removes
/// the reference. The owner calls it while it is being deleted, before it is removed, so an
/// owner that crashes midway is still there and its deletion can be retried.
/// </summary>
public sealed partial class GarbageCollector(IGrainFactory grains, ILogger<GarbageCollector> logger)
{
    /// <summary>Every registered kind can have owners.</summary>
    private static readonly DependentKind[] Kinds = [.. Grains.Kinds.KindRegistry.All.Select(k => k.Accept(new DependentKindOf()))];

    private sealed class DependentKindOf : Grains.Kinds.IKindVisitor<DependentKind>
    {
        public DependentKind Visit<T>(Grains.Kinds.Kind<T> kind) where T : class, IResource<T> => new DependentKind<T>();
    }

    public async Task DeleteDependentsAsync(IResource owner, string policy)
    {
        foreach (var kind in Kinds)
        {
            await kind.DeleteAsync(grains, owner, policy, logger);
        }
    }

    public async Task OrphanDependentsAsync(IResource owner)
    {
        foreach (var kind in Kinds)
        {
            await kind.OrphanAsync(grains, owner, logger);
        }
    }

    public async Task<int> CountDependentsAsync(IResource owner)
    {
        var count = 0;
        foreach (var kind in Kinds)
        {
            count += await kind.CountAsync(grains, owner);
        }
        return count;
    }

    private abstract class DependentKind
    {
        public abstract Task DeleteAsync(IGrainFactory grains, IResource owner, string policy, ILogger logger);

        public abstract Task OrphanAsync(IGrainFactory grains, IResource owner, ILogger logger);

        public abstract Task<int> CountAsync(IGrainFactory grains, IResource owner);
    }

    private sealed class DependentKind<T> : DependentKind where T : class, IResource<T>
    {
        private static async Task<IReadOnlyList<T>> DependentsAsync(IGrainFactory grains, IResource owner)
        {
            var index = grains.GetGrain<IResourceIndexGrain<T>>(T.Type.Plural);
            var list = await index.ListAsync(new ResourceQuery { Namespace = owner.Metadata.Namespace, OwnerUid = owner.Metadata.Uid });
            return list.Items;
        }

        public override async Task DeleteAsync(IGrainFactory grains, IResource owner, string policy, ILogger logger)
        {
            var options = new DeleteOptions { PropagationPolicy = policy };
            await Parallel.ForEachAsync(await DependentsAsync(grains, owner), async (child, _) =>
            {
                if (child.Metadata.IsDeleting && policy != PropagationPolicy.Foreground)
                {
                    return;
                }
                try
                {
                    await grains.GetGrain<IResourceGrain<T>>(child.Key()).DeleteAsync(options with
                    {
                        Preconditions = new Preconditions { Uid = child.Metadata.Uid },
                    });
                }
                catch (ApiException ex) when (ex.Code is 404 or 409)
                {
                    // Gone already, or replaced by a newer object of the same name.
                }
                catch (Exception ex)
                {
                    LogDependentFailed(logger, ex, T.Type.Kind, child.Key());
                    throw;
                }
            });
        }

        public override async Task OrphanAsync(IGrainFactory grains, IResource owner, ILogger logger)
        {
            foreach (var child in await DependentsAsync(grains, owner))
            {
                var refs = child.Metadata.OwnerReferences!.Where(o => o.Uid != owner.Metadata.Uid).ToList();
                var grain = grains.GetGrain<IResourceGrain<T>>(child.Key());
                try
                {
                    await grain.UpdateAsync(child.WithMetadata(child.Metadata with { OwnerReferences = refs.Count > 0 ? refs : null }));
                }
                catch (ApiException ex) when (ex.Code is 404)
                {
                }
            }
        }

        public override async Task<int> CountAsync(IGrainFactory grains, IResource owner) => (await DependentsAsync(grains, owner)).Count;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting dependent {Kind} {Key} failed")]
    private static partial void LogDependentFailed(ILogger logger, Exception exception, string kind, string key);
}
