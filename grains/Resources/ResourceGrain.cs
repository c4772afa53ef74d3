using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Store;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Validation;

namespace Orchestrator.Grains.Resources;

/// <summary>
/// The life cycle every object shares: create with defaults and validation, optimistic
/// concurrency on resourceVersion, generation bumps on spec changes, status writes that cannot
/// touch the spec, patches applied to the latest object, deletion (graceful where a kind
/// overrides it) with garbage collection of dependents. Every write goes to the object store,
/// which assigns its resourceVersion and appends it to the kind's change feed in one transaction.
/// Not [Reentrant]: one call at a time per object, the guarantee controllers rely on.
/// </summary>
public abstract class ResourceGrain<T> : Grain, IResourceGrain<T> where T : class, IResource<T>
{
    private static readonly string StoreKind = T.Type.QualifiedResource;

    private T? _current;

    /// <summary>The stored version <see cref="_current"/> has; 0 when nothing is stored.</summary>
    private long _version;

    /// <summary>What the store holds for <see cref="_current"/>, once serialized.</summary>
    private byte[]? _payload;

    /// <summary>Set when a write failed in a way that leaves its outcome unknown (the store went
    /// away mid-commit): the next call reads the store before it trusts <see cref="_current"/>.</summary>
    private bool _stale;

    protected ResourceGrain(GrainServices services)
    {
        Services = services;
        Logger = services.LoggerFactory.CreateLogger(GetType());
    }

    protected GrainServices Services { get; }

    protected ILogger Logger { get; }

    protected ControlPlaneOptions Options => Services.Options.Value;

    protected DateTimeOffset Now => Services.Time.GetUtcNow();

    /// <summary>The stored object, null when it does not exist.</summary>
    protected T? Current => _current;

    protected string Key => this.GetPrimaryKeyString();

    protected (string? Namespace, string Name) KeyParts => ResourceType.SplitKey(Key);


    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await ReloadAsync();
        await base.OnActivateAsync(cancellationToken);
    }

    public async Task<T?> GetAsync()
    {
        await ReloadIfStaleAsync();
        return Current;
    }

    public Task<T> PatchAsync(PatchType type, byte[] patch, bool status) => PatchAsync(type, patch, status, WriteOptions.Default);

    public async Task<T> PatchAsync(PatchType type, byte[] patch, bool status, WriteOptions options)
    {
        await ReloadIfStaleAsync();
        var current = Current ?? throw ApiErrors.NotFound(T.Type, KeyParts.Name);
        // Applied here, to the latest object, one call at a time: concurrent patches never
        // conflict unless one names a resourceVersion (Kubernetes' GuaranteedUpdate).
        var patched = Patches.Apply(ResourceJson.ToNode(current)!, patch, type, typeof(T));
        var obj = Decode(patched);
        if (obj.Metadata.Name is { Length: > 0 } name && name != KeyParts.Name)
        {
            throw ApiErrors.BadRequest($"the name of the object ({name}) does not match the name on the URL ({KeyParts.Name})");
        }
        if (T.Type.Namespaced && obj.Metadata.Namespace is { Length: > 0 } ns && ns != KeyParts.Namespace)
        {
            throw ApiErrors.BadRequest($"the namespace of the provided object ({ns}) does not match the namespace sent on the request ({KeyParts.Namespace})");
        }
        return status ? await UpdateStatusAsync(obj, options) : await UpdateAsync(obj, options);
    }

    private static T Decode(System.Text.Json.Nodes.JsonNode node)
    {
        if (node is System.Text.Json.Nodes.JsonObject o)
        {
            if (o["apiVersion"] is System.Text.Json.Nodes.JsonValue av && av.TryGetValue<string>(out var a) && a != T.Type.ApiVersion)
            {
                throw ApiErrors.BadRequest($"the API version in the data ({a}) does not match the expected API version ({T.Type.ApiVersion})");
            }
            if (o["kind"] is System.Text.Json.Nodes.JsonValue kv && kv.TryGetValue<string>(out var k) && k != T.Type.Kind)
            {
                throw ApiErrors.BadRequest($"the kind in the data ({k}) does not match the expected kind ({T.Type.Kind})");
            }
        }
        return ResourceJson.Decode<T>(node);
    }

    public Task<T> CreateAsync(T obj) => CreateAsync(obj, WriteOptions.Default);

    public async Task<T> CreateAsync(T obj, WriteOptions options)
    {
        await ReloadIfStaleAsync();
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
        if (options.DryRun)
        {
            // Kubernetes' dry-run create answers the object without a resourceVersion (none was
            // assigned); what admission reserved for it (a ClusterIP) is released again.
            await OnCreateRejectedAsync(candidate);
            return candidate;
        }
        T stored;
        try
        {
            stored = await WriteAsync(candidate);
        }
        catch
        {
            await OnCreateRejectedAsync(candidate);
            throw;
        }
        await OnWrittenAsync(null, stored);
        return stored;
    }

    public Task<T> UpdateAsync(T obj) => UpdateAsync(obj, WriteOptions.Default);

    public async Task<T> UpdateAsync(T obj, WriteOptions options)
    {
        await ReloadIfStaleAsync();
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
        var payload = PayloadOf(candidate);
        if (payload.AsSpan().SequenceEqual(CurrentPayload))
        {
            return current;
        }
        if (options.DryRun)
        {
            return candidate;
        }
        if (candidate.Metadata.IsDeleting && candidate.Metadata.Finalizers is not { Count: > 0 })
        {
            // The last finalizer is gone: a deletion that was waiting for it completes now.
            return (await RemoveAsync(candidate)).Object;
        }
        var stored = await WriteAsync(candidate, payload);
        await OnWrittenAsync(current, stored);
        return stored;
    }

    public Task<T> UpdateStatusAsync(T obj) => UpdateStatusAsync(obj, WriteOptions.Default);

    public async Task<T> UpdateStatusAsync(T obj, WriteOptions options)
    {
        if (!T.Type.HasStatus)
        {
            throw ApiErrors.MethodNotAllowed($"{T.Type.Plural} have no status subresource");
        }
        await ReloadIfStaleAsync();
        var current = Current ?? throw ApiErrors.NotFound(T.Type, KeyParts.Name);
        CheckVersion(obj.Metadata.ResourceVersion, current);
        if (options.DryRun)
        {
            return current.WithStatusOf(obj);
        }
        return await WriteStatusAsync(current.WithStatusOf(obj)) ?? current;
    }

    public async Task<DeleteResult<T>> DeleteAsync(DeleteOptions options)
    {
        await ReloadIfStaleAsync();
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
        if (options.DryRun?.Contains(WriteOptions.All) == true)
        {
            return DryRunDelete(current, options with { PropagationPolicy = policy });
        }
        return await DeleteCoreAsync(current, options with { PropagationPolicy = policy });
    }

    /// <summary>What <see cref="DeleteCoreAsync"/> would answer, with nothing stored or
    /// collected (dryRun=All). The default: an object with finalizers would stay, marked for
    /// deletion; any other would be gone. Kinds whose deletion differs override both.</summary>
    protected virtual DeleteResult<T> DryRunDelete(T current, DeleteOptions options) =>
        current.Metadata.Finalizers is { Count: > 0 }
            ? new DeleteResult<T>(MarkedDeleting(current, gracePeriodSeconds: null), Finished: false)
            : new DeleteResult<T>(current, Finished: true);

    /// <summary><paramref name="current"/> as <see cref="MarkDeletingAsync"/> would store it,
    /// without a finalizer added.</summary>
    protected T MarkedDeleting(T current, long? gracePeriodSeconds)
    {
        var meta = current.Metadata;
        return current.WithMetadata(meta with
        {
            DeletionTimestamp = meta.DeletionTimestamp ?? Now.AddSeconds(gracePeriodSeconds ?? 0),
            DeletionGracePeriodSeconds = gracePeriodSeconds ?? meta.DeletionGracePeriodSeconds ?? 0,
        });
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
        if (await WriteIfChangedAsync(current.WithStatusOf(withNewStatus)) is not { } stored)
        {
            return null;
        }
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
        if (await WriteIfChangedAsync(candidate) is not { } stored)
        {
            return current;
        }
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
        if (await WriteIfChangedAsync(candidate) is not { } stored)
        {
            return current;
        }
        await OnWrittenAsync(current, stored);
        return stored;
    }

    /// <summary>Stores <paramref name="candidate"/> unless it is what is stored already (the
    /// comparison is of the JSON the store would get, serialized once). Returns the stored object,
    /// or null when nothing changed.</summary>
    private async Task<T?> WriteIfChangedAsync(T candidate)
    {
        var payload = PayloadOf(candidate);
        return payload.AsSpan().SequenceEqual(CurrentPayload) ? null : await WriteAsync(candidate, payload);
    }

    /// <summary>What the store holds for an object: its JSON without the resourceVersion, which the
    /// store keeps beside it.</summary>
    private static byte[] PayloadOf(T obj) => ResourceJson.Serialize(obj.WithMetadata(obj.Metadata with { ResourceVersion = null }));

    private byte[] CurrentPayload => _current is null ? [] : _payload ??= PayloadOf(_current);

    /// <summary>Stores a change: the store checks that the stored version is still the one this
    /// activation holds, gives the change its resourceVersion and appends it to the feed.</summary>
    protected Task<T> WriteAsync(T candidate) => WriteAsync(candidate, PayloadOf(candidate));

    private async Task<T> WriteAsync(T candidate, byte[] payload)
    {
        long version;
        try
        {
            version = await Services.Store.PutAsync(StoreKind, Key, _version, _version == 0 ? WatchEventType.Added : WatchEventType.Modified, payload, candidate);
        }
        catch (Exception ex)
        {
            throw await StorageFailureAsync(ex);
        }
        var stored = candidate.WithMetadata(candidate.Metadata with { ResourceVersion = version.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        _current = stored;
        _version = version;
        _payload = payload;
        return stored;
    }

    /// <summary>Removes the object from storage, with its deletion in the feed.</summary>
    protected async Task<DeleteResult<T>> RemoveAsync(T current)
    {
        long version;
        try
        {
            version = await Services.Store.RemoveAsync(StoreKind, Key, _version, PayloadOf(current), current);
        }
        catch (Exception ex)
        {
            throw await StorageFailureAsync(ex);
        }
        var last = current.WithMetadata(current.Metadata with { ResourceVersion = version.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        _current = null;
        _version = 0;
        _payload = null;
        await OnRemovedAsync(last);
        return new DeleteResult<T>(last, Finished: true);
    }

    private async Task<ApiException> StorageFailureAsync(Exception ex)
    {
        if (ex is StoreConflictException)
        {
            // Another activation wrote this object (possible for a moment while silos join or
            // leave): reload and let the client retry against the newer state.
            await ReloadAsync();
            return ApiErrors.Conflict(T.Type, KeyParts.Name, ApiErrors.StaleObjectMessage);
        }
        if (ex is ApiException api)
        {
            return api;
        }
        // The write may or may not have committed: read the store before the next call.
        _stale = true;
        Logger.StorageWriteFailed(ex, T.Type.Kind, Key);
        return ApiErrors.Unavailable($"the object store is unavailable: {ex.GetBaseException().Message}");
    }

    /// <summary>Reads the object as stored. From this silo's cache once it has caught up with the
    /// store, which holds exactly what the store does at that version and costs no read of the
    /// object (in the embedded profile, no I/O at all).</summary>
    private async Task ReloadAsync()
    {
        var cache = Services.Caches.Of<T>();
        await cache.SyncAsync();
        _current = await cache.GetAsync(Key);
        _version = _current?.ResourceVersionNumber() ?? 0;
        _payload = null;
        _stale = false;
    }

    private async Task ReloadIfStaleAsync()
    {
        if (_stale)
        {
            try
            {
                await ReloadAsync();
            }
            catch (Exception ex) when (ex is not ApiException)
            {
                throw ApiErrors.Unavailable($"the object store is unavailable: {ex.GetBaseException().Message}");
            }
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

    /// <summary>The namespace this object is created in, from this silo's cache (its labels
    /// choose admission policy); null for cluster-scoped kinds.</summary>
    protected async Task<Namespace?> OwnNamespaceAsync() =>
        KeyParts.Namespace is { } ns ? await Services.Caches.Of<Namespace>().GetAsync(ns) : null;

    private async Task CheckNamespaceAsync(string ns)
    {
        // Through the cache, not the namespace grain: the namespace grain deletes objects while
        // it terminates and may be waiting for this very grain. A namespace just created through
        // another silo may not have reached this silo's cache: look again once it has caught up.
        var namespaces = Services.Caches.Of<Namespace>();
        var nsObj = await namespaces.GetAsync(ns);
        if (nsObj is null)
        {
            await namespaces.SyncAsync();
            nsObj = await namespaces.GetAsync(ns);
        }
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
        if (obj.Metadata.ControllerRef is { } owner && Kinds.KindRegistry.Find(owner.Kind)?.Controller(GrainFactory, obj.Metadata.Namespace, owner.Name) is { } reconciler)
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
