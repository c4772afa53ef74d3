using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Validation;
using Orleans.Storage;

namespace Orchestrator.Grains.Resources;

/// <summary>
/// The life cycle every object shares: create with defaults and validation, optimistic
/// concurrency on resourceVersion, generation bumps on spec changes, status writes that cannot
/// touch the spec, deletion (graceful where a kind overrides it) with garbage collection of
/// dependents, and publication of every stored change to the kind's index.
/// Not [Reentrant]: one call at a time per object, the guarantee controllers rely on.
/// </summary>
public abstract class ResourceGrain<T> : Grain, IResourceGrain<T> where T : class, IResource<T>
{
    private readonly IPersistentState<ResourceState<T>> _state;

    protected ResourceGrain(IPersistentState<ResourceState<T>> state, GrainServices services)
    {
        _state = state;
        Services = services;
        Logger = services.LoggerFactory.CreateLogger(GetType());
    }

    protected GrainServices Services { get; }

    protected ILogger Logger { get; }

    protected ControlPlaneOptions Options => Services.Options.Value;

    protected DateTimeOffset Now => Services.Time.GetUtcNow();

    /// <summary>The stored object, null when it does not exist.</summary>
    protected T? Current => _state.State.Object;

    protected string Key => this.GetPrimaryKeyString();

    protected (string? Namespace, string Name) KeyParts => ResourceType.SplitKey(Key);

    protected IResourceIndexGrain<T> Index => GrainFactory.GetGrain<IResourceIndexGrain<T>>(T.Type.Plural);

    public Task<T?> GetAsync() => Task.FromResult(Current);

    public async Task<T> CreateAsync(T obj)
    {
        if (Current is not null)
        {
            throw ApiErrors.AlreadyExists(T.Type, KeyParts.Name);
        }
        var (ns, name) = KeyParts;
        if (obj.Metadata.Name is { Length: > 0 } n && n != name)
        {
            throw ApiErrors.BadRequest($"the name of the object ({n}) does not match the name in the request ({name})");
        }
        var meta = obj.Metadata with
        {
            Name = name,
            Namespace = T.Type.Namespaced ? ns : null,
            Uid = Guid.NewGuid().ToString(),
            ResourceVersion = null,
            Generation = 1,
            CreationTimestamp = Now,
            DeletionTimestamp = null,
            DeletionGracePeriodSeconds = null,
        };
        var candidate = T.ApplyDefaults(obj.WithMetadata(meta));
        var errors = Validator.Validate(candidate, null);
        if (T.Type.Namespaced)
        {
            await CheckNamespaceAsync(ns!);
        }
        candidate = await OnCreatingAsync(candidate, errors);
        if (errors.Any)
        {
            await OnCreateRejectedAsync(candidate);
            throw ApiErrors.Invalid(T.Type, name, errors);
        }
        T stored;
        try
        {
            stored = await WriteAsync(candidate, WatchEventType.Added);
        }
        catch
        {
            await OnCreateRejectedAsync(candidate);
            throw;
        }
        await OnWrittenAsync(null, stored);
        return stored;
    }

    public async Task<T> UpdateAsync(T obj)
    {
        var current = Current ?? throw ApiErrors.NotFound(T.Type, KeyParts.Name);
        CheckVersion(obj.Metadata.ResourceVersion, current);
        var meta = obj.Metadata with
        {
            Name = current.Metadata.Name,
            Namespace = current.Metadata.Namespace,
            Uid = string.IsNullOrEmpty(obj.Metadata.Uid) ? current.Metadata.Uid : obj.Metadata.Uid,
            CreationTimestamp = current.Metadata.CreationTimestamp,
            DeletionTimestamp = current.Metadata.DeletionTimestamp,
            DeletionGracePeriodSeconds = current.Metadata.DeletionGracePeriodSeconds,
            Generation = current.Metadata.Generation,
            ResourceVersion = current.Metadata.ResourceVersion,
            GenerateName = obj.Metadata.GenerateName ?? current.Metadata.GenerateName,
        };
        var candidate = T.ApplyDefaults(obj.WithMetadata(meta).WithStatusOf(current));
        var errors = Validator.Validate(candidate, current);
        if (current.Metadata.IsDeleting && AddsFinalizers(candidate, current))
        {
            errors.Forbidden("metadata.finalizers", "no new finalizers can be added if the object is being deleted");
        }
        candidate = await OnUpdatingAsync(candidate, current, errors);
        if (errors.Any)
        {
            throw ApiErrors.Invalid(T.Type, KeyParts.Name, errors);
        }
        if (!ResourceJson.DeepEquals(candidate.DesiredState, current.DesiredState))
        {
            candidate = candidate.WithMetadata(candidate.Metadata with { Generation = (current.Metadata.Generation ?? 0) + 1 });
        }
        if (ResourceJson.DeepEquals(candidate, current))
        {
            return current;
        }
        if (candidate.Metadata.IsDeleting && candidate.Metadata.Finalizers is not { Count: > 0 })
        {
            // The last finalizer is gone: a deletion that was waiting for it completes now.
            return (await RemoveAsync(candidate)).Object;
        }
        var stored = await WriteAsync(candidate, WatchEventType.Modified);
        await OnWrittenAsync(current, stored);
        return stored;
    }

    public async Task<T> UpdateStatusAsync(T obj)
    {
        if (!T.Type.HasStatus)
        {
            throw ApiErrors.MethodNotAllowed($"{T.Type.Plural} have no status subresource");
        }
        var current = Current ?? throw ApiErrors.NotFound(T.Type, KeyParts.Name);
        CheckVersion(obj.Metadata.ResourceVersion, current);
        return await WriteStatusAsync(current.WithStatusOf(obj)) ?? current;
    }

    public async Task<DeleteResult<T>> DeleteAsync(DeleteOptions options)
    {
        var current = Current ?? throw ApiErrors.NotFound(T.Type, KeyParts.Name);
        if (options.Preconditions?.Uid is { Length: > 0 } uid && uid != current.Metadata.Uid)
        {
            throw ApiErrors.Conflict(T.Type, KeyParts.Name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {current.Metadata.Uid}");
        }
        if (options.Preconditions?.ResourceVersion is { Length: > 0 } rv && rv != current.Metadata.ResourceVersion)
        {
            throw ApiErrors.Conflict(T.Type, KeyParts.Name, $"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {current.Metadata.ResourceVersion}");
        }
        var policy = options.PropagationPolicy ?? (options.OrphanDependents == true ? PropagationPolicy.Orphan : PropagationPolicy.Background);
        if (policy is not (PropagationPolicy.Background or PropagationPolicy.Foreground or PropagationPolicy.Orphan))
        {
            throw ApiErrors.BadRequest($"propagationPolicy \"{policy}\" is not supported: use Background, Foreground or Orphan");
        }
        return await DeleteCoreAsync(current, options with { PropagationPolicy = policy });
    }

    public async Task ResyncAsync()
    {
        var current = Current;
        var indexed = await Index.GetVersionAsync(Key);
        if (current is null)
        {
            if (indexed is not null)
            {
                // The index still lists an object whose removal was stored but never published.
                await Index.ForgetAsync(Key);
            }
            return;
        }
        if (indexed != current.ResourceVersionNumber())
        {
            Logger.Republishing(T.Type.Kind, Key, indexed, current.ResourceVersionNumber());
            var stored = await WriteAsync(current, WatchEventType.Modified);
            await OnWrittenAsync(current, stored);
        }
    }

    // ------------------------------------------------------------------ hooks for kinds

    /// <summary>Admission on create: add problems to <paramref name="errors"/> or return a changed
    /// object (an allocated ClusterIP, say).</summary>
    protected virtual Task<T> OnCreatingAsync(T obj, FieldErrors errors) => Task.FromResult(obj);

    /// <summary>Undo side effects of <see cref="OnCreatingAsync"/> when the create fails.</summary>
    protected virtual Task OnCreateRejectedAsync(T obj) => Task.CompletedTask;

    protected virtual Task<T> OnUpdatingAsync(T obj, T old, FieldErrors errors) => Task.FromResult(obj);

    /// <summary>After every stored change (create, update, status): tell whoever must know.</summary>
    protected virtual Task OnWrittenAsync(T? old, T now) => PokeOwnerAsync(now);

    /// <summary>After the object is gone from storage.</summary>
    protected virtual Task OnRemovedAsync(T last) => PokeOwnerAsync(last);

    /// <summary>
    /// Deletes the object. The default: wait for finalizers if there are any, otherwise deal with
    /// dependents (by the propagation policy) and remove the object now.
    /// </summary>
    protected virtual async Task<DeleteResult<T>> DeleteCoreAsync(T current, DeleteOptions options)
    {
        if (options.PropagationPolicy == PropagationPolicy.Foreground && SupportsForegroundDeletion)
        {
            var marked = await MarkDeletingAsync(current, addFinalizer: Finalizers.ForegroundDeletion);
            await Services.GarbageCollector.DeleteDependentsAsync(marked, PropagationPolicy.Foreground);
            return new DeleteResult<T>(marked, Finished: false);
        }
        if (current.Metadata.Finalizers is { Count: > 0 })
        {
            return new DeleteResult<T>(await MarkDeletingAsync(current, addFinalizer: null), Finished: false);
        }
        if (options.PropagationPolicy == PropagationPolicy.Orphan)
        {
            await Services.GarbageCollector.OrphanDependentsAsync(current);
        }
        else
        {
            await Services.GarbageCollector.DeleteDependentsAsync(current, PropagationPolicy.Background);
        }
        return await RemoveAsync(current);
    }

    /// <summary>Only controllers can wait for their dependents (they reconcile until they are gone).</summary>
    protected virtual bool SupportsForegroundDeletion => false;

    // ------------------------------------------------------------------ writing

    /// <summary>Writes a new status (the spec stays as stored); skipped when nothing changed.
    /// Returns the stored object, or null when no write was needed.</summary>
    protected async Task<T?> WriteStatusAsync(T withNewStatus)
    {
        var current = Current ?? throw ApiErrors.NotFound(T.Type, KeyParts.Name);
        var candidate = current.WithStatusOf(withNewStatus);
        if (ResourceJson.DeepEquals(candidate, current))
        {
            return null;
        }
        var stored = await WriteAsync(candidate, WatchEventType.Modified);
        await OnWrittenAsync(current, stored);
        return stored;
    }

    /// <summary>Replaces the stored object as the controller sees fit (metadata and spec), bumping
    /// generation when the spec changed. For controllers' own writes, not clients'.</summary>
    protected async Task<T> WriteObjectAsync(T candidate)
    {
        var current = Current ?? throw ApiErrors.NotFound(T.Type, KeyParts.Name);
        if (!ResourceJson.DeepEquals(candidate.DesiredState, current.DesiredState))
        {
            candidate = candidate.WithMetadata(candidate.Metadata with { Generation = (current.Metadata.Generation ?? 0) + 1 });
        }
        if (ResourceJson.DeepEquals(candidate, current))
        {
            return current;
        }
        var stored = await WriteAsync(candidate, WatchEventType.Modified);
        await OnWrittenAsync(current, stored);
        return stored;
    }

    /// <summary>Sets deletionTimestamp (once) and optionally a finalizer, and stores that.</summary>
    protected async Task<T> MarkDeletingAsync(T current, string? addFinalizer, long? gracePeriodSeconds = null)
    {
        var meta = current.Metadata;
        var finalizers = meta.Finalizers?.ToList() ?? [];
        if (addFinalizer is not null && !finalizers.Contains(addFinalizer))
        {
            finalizers.Add(addFinalizer);
        }
        var candidate = current.WithMetadata(meta with
        {
            DeletionTimestamp = meta.DeletionTimestamp ?? Now.AddSeconds(gracePeriodSeconds ?? 0),
            DeletionGracePeriodSeconds = gracePeriodSeconds ?? meta.DeletionGracePeriodSeconds ?? 0,
            Finalizers = finalizers.Count > 0 ? finalizers : null,
        });
        if (ResourceJson.DeepEquals(candidate, current))
        {
            return current;
        }
        var stored = await WriteAsync(candidate, WatchEventType.Modified);
        await OnWrittenAsync(current, stored);
        return stored;
    }

    /// <summary>
    /// Stores a change and then publishes it to the index. The index reserves the
    /// resourceVersion first so that watchers see changes in order; a change that could not be
    /// stored is abandoned, and a change stored but never published (the writer died in between)
    /// is republished when the index's reservation times out and asks this grain to resync.
    /// </summary>
    protected async Task<T> WriteAsync(T candidate, WatchEventType type)
    {
        var rv = await Index.ReserveAsync(Key);
        var stored = candidate.WithMetadata(candidate.Metadata with { ResourceVersion = rv.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var previous = _state.State.Object;
        _state.State.Object = stored;
        try
        {
            await _state.WriteStateAsync();
        }
        catch (Exception ex)
        {
            _state.State.Object = previous;
            await AbandonQuietlyAsync(rv);
            throw await StorageFailureAsync(ex);
        }
        await PublishQuietlyAsync(rv, type, stored);
        return stored;
    }

    /// <summary>Removes the object from storage and publishes its deletion.</summary>
    protected async Task<DeleteResult<T>> RemoveAsync(T current)
    {
        var rv = await Index.ReserveAsync(Key);
        var last = current.WithMetadata(current.Metadata with { ResourceVersion = rv.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        try
        {
            await _state.ClearStateAsync();
        }
        catch (Exception ex)
        {
            await AbandonQuietlyAsync(rv);
            throw await StorageFailureAsync(ex);
        }
        _state.State.Object = null;
        await PublishQuietlyAsync(rv, WatchEventType.Deleted, last);
        await OnRemovedAsync(last);
        return new DeleteResult<T>(last, Finished: true);
    }

    private async Task<ApiException> StorageFailureAsync(Exception ex)
    {
        if (ex is InconsistentStateException)
        {
            // Another activation wrote this object (possible for a moment while silos join or
            // leave): reload and let the client retry against the newer state.
            await _state.ReadStateAsync();
            return ApiErrors.Conflict(T.Type, KeyParts.Name, ApiErrors.StaleObjectMessage);
        }
        Logger.StorageWriteFailed(ex, T.Type.Kind, Key);
        return ApiErrors.Unavailable($"the object store is unavailable: {ex.GetBaseException().Message}");
    }

    private async Task AbandonQuietlyAsync(long rv)
    {
        try
        {
            await Index.AbandonAsync(rv);
        }
        catch (Exception ex)
        {
            // The index times the reservation out by itself.
            Logger.IndexCallFailed(ex, T.Type.Kind, Key);
        }
    }

    private async Task PublishQuietlyAsync(long rv, WatchEventType type, T obj)
    {
        try
        {
            await Index.PublishAsync(rv, type, obj);
        }
        catch (Exception ex)
        {
            // The change is stored, so the write succeeded, but the index may never hear of it:
            // when the index's silo died, its new activation may have loaded the store before
            // this write landed and holds no reservation to time out. So this grain republishes
            // until an index takes it.
            Logger.IndexCallFailed(ex, T.Type.Kind, Key);
            _unpublished = true;
            _republishTimer ??= this.RegisterGrainTimer(RepublishAsync, new GrainTimerCreationOptions(RepublishPeriod, RepublishPeriod) { Interleave = false, KeepAlive = true });
        }
    }

    private static readonly TimeSpan RepublishPeriod = TimeSpan.FromSeconds(1);
    private IGrainTimer? _republishTimer;
    private bool _unpublished;

    private async Task RepublishAsync(CancellationToken cancellationToken)
    {
        _unpublished = false;
        try
        {
            await ResyncAsync();
        }
        catch (Exception ex)
        {
            Logger.IndexCallFailed(ex, T.Type.Kind, Key);
            _unpublished = true;
        }
        if (!_unpublished)
        {
            _republishTimer?.Dispose();
            _republishTimer = null;
        }
    }

    private void CheckVersion(string? requested, T current)
    {
        if (!string.IsNullOrEmpty(requested) && requested != current.Metadata.ResourceVersion)
        {
            throw ApiErrors.Conflict(T.Type, KeyParts.Name, ApiErrors.StaleObjectMessage);
        }
    }

    private static bool AddsFinalizers(T candidate, T current) =>
        (candidate.Metadata.Finalizers ?? []).Except(current.Metadata.Finalizers ?? []).Any();

    private async Task CheckNamespaceAsync(string ns)
    {
        // Through the index, not the namespace grain: the namespace grain deletes objects while
        // it terminates and may be waiting for this very grain.
        var nsObj = await GrainFactory.GetGrain<IResourceIndexGrain<Namespace>>(ResourceTypes.Namespace.Plural).GetAsync(ns);
        if (nsObj is null)
        {
            throw ApiErrors.NotFound(ResourceTypes.Namespace, ns);
        }
        if (nsObj.Metadata.IsDeleting)
        {
            throw ApiErrors.Forbidden(T.Type, KeyParts.Name, $"unable to create new content in namespace {ns} because it is being terminated");
        }
    }

    /// <summary>Tells the controller of this object that it changed.</summary>
    protected Task PokeOwnerAsync(T obj)
    {
        if (obj.Metadata.ControllerRef is { } owner && Reconcilers.For(GrainFactory, owner.Kind, obj.Metadata.Namespace, owner.Name) is { } reconciler)
        {
            return reconciler.PokeAsync();
        }
        return Task.CompletedTask;
    }
}

public static class Finalizers
{
    /// <summary>Kubernetes' marker for an owner waiting for its dependents to go first.</summary>
    public const string ForegroundDeletion = "foregroundDeletion";
}
