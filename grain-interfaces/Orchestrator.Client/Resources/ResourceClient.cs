using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using Orchestrator.Calls;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.Selectors;
using Orchestrator.Serialization;
using Orchestrator.Validation;

namespace Orchestrator.Client.Resources;

/// <summary>
/// The calls on one kind in one namespace (null: every namespace, for lists and watches), through
/// the kind's grains only. Every failure the HTTP API answers with a Kubernetes Status (a 404, a
/// 409 on a stale resourceVersion, a 422 whose causes name each invalid field) throws
/// <see cref="ApiException"/> with that same Status.
/// </summary>
public class ResourceClient<T> where T : class, IResource<T>
{
    /// <summary>Pauses before each repeat of a read that met a lost silo, as the HTTP API's.</summary>
    private static readonly TimeSpan[] ReadRetryDelays = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(1000)];

    /// <summary>How long a watch waits for the list it starts or re-lists with before it asks again
    /// (a call stranded on a dead silo is never answered: dotnet/orleans#10165).</summary>
    private static readonly TimeSpan ListDeadline = Hosting.OrchestratorClientOptions.WatchPollWait + TimeSpan.FromSeconds(5);

    private const string SuffixAlphabet = "bcdfghjklmnpqrstvwxz2456789";

    internal ResourceClient(IGrainFactory grains, string? ns, TimeProvider time)
    {
        Grains = grains;
        Namespace = T.Type.Namespaced ? ns : null;
        Time = time;
    }

    protected IGrainFactory Grains { get; }

    protected TimeProvider Time { get; }

    /// <summary>The namespace of this client; null for cluster-scoped kinds and for "every namespace".</summary>
    public string? Namespace { get; }

    /// <summary>How long one long-poll of a watch waits for a change before asking again.</summary>
    internal TimeSpan WatchPollWait { get; set; } = Hosting.OrchestratorClientOptions.WatchPollWait;

    private int _watchPolls;

    /// <summary>How many long-polls of this client's watches have been answered (for tests).</summary>
    internal int WatchPolls => Volatile.Read(ref _watchPolls);

    private static ResourceType Type => T.Type;

    private IResourceIndexGrain<T> Index => Grains.GetGrain<IResourceIndexGrain<T>>(Type.Plural);

    /// <summary>The grain of the object <paramref name="name"/> in this client's namespace.</summary>
    protected IResourceGrain<T> Grain(string name, string? ns = null) =>
        Grains.GetGrain<IResourceGrain<T>>(Type.Key(NamespaceFor(ns), RequireName(name)));

    /// <summary>Creates the object after the server applies defaults and validates it; a
    /// <c>metadata.generateName</c> without a name gets a random suffix. The object's namespace,
    /// when set, must be this client's.</summary>
    public async Task<T> CreateAsync(T obj, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var meta = WithNamespace(obj.Metadata);
        if (string.IsNullOrEmpty(meta.Name) && !string.IsNullOrEmpty(meta.GenerateName))
        {
            meta = meta with { Name = meta.GenerateName + RandomSuffix() };
        }
        obj = obj.WithMetadata(meta);
        // Checked here as the API checks a create before anything is stored (the grain checks
        // again): an object without a name has no grain to ask.
        var errors = Validator.Validate(T.ApplyDefaults(obj), null);
        if (errors.Any)
        {
            throw ApiErrors.Invalid(Type, meta.Name ?? meta.GenerateName, errors);
        }
        var grain = Grains.GetGrain<IResourceGrain<T>>(Type.Key(meta.Namespace, meta.Name!));
        return await CallAsync(() => grain.CreateAsync(obj), cancellationToken);
    }

    /// <summary>The object; 404 <see cref="ApiException"/> when it does not exist.</summary>
    public async Task<T> GetAsync(string name, CancellationToken cancellationToken = default) =>
        await FindAsync(name, cancellationToken) ?? throw ApiErrors.NotFound(Type, name);

    /// <summary>The object, or null when it does not exist.</summary>
    public Task<T?> FindAsync(string name, CancellationToken cancellationToken = default)
    {
        var grain = Grain(name);
        return ReadAsync(() => grain.GetAsync(), cancellationToken);
    }

    /// <summary>The objects matching the selectors (Kubernetes' syntax, e.g. "app=web,tier!=db"
    /// and "status.phase=Running"); a consistent list unless <paramref name="options"/> pins a
    /// resourceVersion; paged with <see cref="ListOptions.Limit"/> and <see cref="ListOptions.Continue"/>.</summary>
    public Task<ResourceList<T>> ListAsync(string? labelSelector = null, string? fieldSelector = null, ListOptions? options = null, CancellationToken cancellationToken = default)
    {
        var query = Query(labelSelector, fieldSelector);
        var index = Index;
        return ReadAsync(() => index.ListAsync(query, options ?? ListOptions.Default), cancellationToken);
    }

    /// <summary>Replaces metadata and spec (the stored status is kept). With
    /// <c>metadata.resourceVersion</c> set the write is rejected with 409 unless it is current.</summary>
    public Task<T> UpdateAsync(T obj, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var meta = WithNamespace(obj.Metadata);
        var grain = Grain(meta.Name!, meta.Namespace);
        return CallAsync(() => grain.UpdateAsync(obj.WithMetadata(meta)), cancellationToken);
    }

    /// <summary>Replaces the status only (the status subresource).</summary>
    public Task<T> UpdateStatusAsync(T obj, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var meta = WithNamespace(obj.Metadata);
        var grain = Grain(meta.Name!, meta.Namespace);
        return CallAsync(() => grain.UpdateStatusAsync(obj.WithMetadata(meta)), cancellationToken);
    }

    /// <summary>Applies a JSON merge patch (RFC 7386, <see cref="PatchType.Merge"/>), a JSON
    /// patch (RFC 6902, <see cref="PatchType.Json"/>) or a strategic merge patch
    /// (<see cref="PatchType.StrategicMerge"/>) to the object as it is now.</summary>
    public Task<T> PatchAsync(string name, PatchType type, string patch, bool status = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(patch);
        return PatchAsync(name, type, Encoding.UTF8.GetBytes(patch), status, cancellationToken);
    }

    public Task<T> PatchAsync(string name, PatchType type, byte[] patch, bool status = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(patch);
        var grain = Grain(name);
        return CallAsync(() => grain.PatchAsync(type, patch, status), cancellationToken);
    }

    /// <summary>A merge patch given as a JSON object, e.g. <c>new JsonObject { ["spec"] = ... }</c>.</summary>
    public Task<T> PatchAsync(string name, JsonObject mergePatch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mergePatch);
        return PatchAsync(name, PatchType.Merge, mergePatch.ToJsonString(), status: false, cancellationToken);
    }

    /// <summary>Deletes the object; <see cref="DeleteResult{T}.Finished"/> is false while it
    /// terminates (a pod on a node) or its dependents go first (foreground propagation).</summary>
    public Task<DeleteResult<T>> DeleteAsync(string name, DeleteOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (options?.DryRun is { Count: > 0 } dryRun && dryRun.Any(v => v != WriteOptions.All))
        {
            throw ApiErrors.Unprocessable($"DeleteOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{{{string.Join(", ", dryRun.Select(v => $"\"{v}\""))}}}: supported values: \"All\"");
        }
        var grain = Grain(name);
        return CallAsync(() => grain.DeleteAsync(options ?? DeleteOptions.Default), cancellationToken);
    }

    /// <summary>
    /// The changes to matching objects, in order, as client-go's reflector delivers them: with no
    /// <paramref name="resourceVersion"/> (or "0") it lists first and yields every current object
    /// as <see cref="WatchEventType.Added"/>; from a resourceVersion it yields the changes after it.
    /// When a long-poll ends or a silo dies it asks again from the last resourceVersion delivered,
    /// so nothing is missed or repeated. When the server no longer has changes that old (HTTP 410
    /// Gone) it lists again and yields the difference to what it delivered: objects it has not
    /// delivered as Added, changed ones as Modified, vanished ones as Deleted (with their last
    /// state), as an informer's re-list does. Ends only when cancelled or on a non-transient error.
    /// </summary>
    public async IAsyncEnumerable<WatchEvent<T>> WatchAsync(string? labelSelector = null, string? fieldSelector = null, string? resourceVersion = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var query = Query(labelSelector, fieldSelector);
        var index = Index;
        var delivered = new Dictionary<string, T>(StringComparer.Ordinal);
        var from = ParseResourceVersion(resourceVersion);
        var failures = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            List<WatchEvent<T>> events;
            try
            {
                if (from is null)
                {
                    var list = await index.ListAsync(query, ListOptions.Default).WaitAsync(ListDeadline, Time, cancellationToken);
                    events = Relist(delivered, list.Items);
                    from = list.ResourceVersion;
                }
                else
                {
                    var batch = await index.WatchAsync(query, from.Value, WatchPollWait)
                        // A call stranded on a silo that died is never answered (dotnet/orleans#10165):
                        // give up on it well before the client's response timeout.
                        .WaitAsync(WatchPollWait + TimeSpan.FromSeconds(5), Time, cancellationToken);
                    Interlocked.Increment(ref _watchPolls);
                    if (batch.TooOld)
                    {
                        from = null;
                        continue;
                    }
                    events = [.. batch.Events];
                    from = batch.ResourceVersion;
                }
                failures = 0;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && IsTransient(ex))
            {
                failures++;
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * (1 << Math.Min(failures, 5)))), Time, cancellationToken);
                continue;
            }
            foreach (var ev in events)
            {
                var key = ev.Object.Key();
                if (ev.Type == WatchEventType.Deleted)
                {
                    delivered.Remove(key);
                }
                else
                {
                    delivered[key] = ev.Object;
                }
                yield return ev;
            }
        }
    }

    /// <summary>What a re-list changes against what was delivered before.</summary>
    private static List<WatchEvent<T>> Relist(Dictionary<string, T> delivered, IReadOnlyList<T> items)
    {
        var events = new List<WatchEvent<T>>(items.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            var key = item.Key();
            seen.Add(key);
            if (!delivered.TryGetValue(key, out var before))
            {
                events.Add(new WatchEvent<T>(WatchEventType.Added, item));
            }
            else if (before.Metadata.ResourceVersion != item.Metadata.ResourceVersion)
            {
                events.Add(new WatchEvent<T>(WatchEventType.Modified, item));
            }
        }
        foreach (var (key, gone) in delivered)
        {
            if (!seen.Contains(key))
            {
                events.Add(new WatchEvent<T>(WatchEventType.Deleted, gone));
            }
        }
        return events;
    }

    /// <summary>A silo was lost or the cluster is settling, or a call timed out: a read or a
    /// watch can ask again.</summary>
    private static bool IsTransient(Exception ex) => CallFailures.IsSiloLoss(ex) || ex is TimeoutException;

    /// <summary>A read, repeated when it met a lost silo (a read can run twice), as the HTTP
    /// API repeats a GET.</summary>
    private async Task<TResult> ReadAsync<TResult>(Func<Task<TResult>> read, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await CallAsync(read, cancellationToken);
            }
            catch (ApiException ex) when (attempt < ReadRetryDelays.Length && !cancellationToken.IsCancellationRequested && ex.InnerException is { } lost && CallFailures.IsSiloLoss(lost))
            {
                await Task.Delay(ReadRetryDelays[attempt], Time, cancellationToken);
            }
        }
    }

    /// <summary>One grain call. A call lost in transit (its silo died, the cluster is settling, it
    /// timed out) throws the <see cref="ApiException"/> the HTTP API answers for it (503 or 504),
    /// with the Orleans failure inside; the grains' own ApiExceptions pass unchanged.</summary>
    protected static async Task<TResult> CallAsync<TResult>(Func<Task<TResult>> call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        try
        {
            return await call().WaitAsync(cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && CallFailures.StatusOf(ex) is { } status)
        {
            throw new ApiException(status, ex);
        }
    }

    private ResourceQuery Query(string? labelSelector, string? fieldSelector) => new()
    {
        Namespace = Namespace,
        Labels = Selector.Parse(labelSelector),
        Fields = FieldSelector.Parse(fieldSelector, Type),
    };

    private static long? ParseResourceVersion(string? resourceVersion) =>
        resourceVersion is null or "" or "0" ? null
        : long.TryParse(resourceVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v
        : throw ApiErrors.BadRequest($"resourceVersion \"{resourceVersion}\" is not a valid resource version");

    /// <summary>Fills in this client's namespace, or checks the object's against it, with the
    /// API's wording.</summary>
    private ObjectMeta WithNamespace(ObjectMeta meta)
    {
        if (!Type.Namespaced)
        {
            return string.IsNullOrEmpty(meta.Namespace) ? meta : throw ApiErrors.BadRequest($"{Type.Plural} are not namespaced; remove metadata.namespace");
        }
        if (Namespace is null)
        {
            return string.IsNullOrEmpty(meta.Namespace)
                ? throw ApiErrors.BadRequest($"metadata.namespace is required: {Type.Plural} are namespaced and this client has no namespace")
                : meta;
        }
        if (!string.IsNullOrEmpty(meta.Namespace) && meta.Namespace != Namespace)
        {
            throw ApiErrors.BadRequest($"the namespace of the provided object ({meta.Namespace}) does not match the namespace sent on the request ({Namespace})");
        }
        return meta with { Namespace = Namespace };
    }

    private string? NamespaceFor(string? ns)
    {
        if (!Type.Namespaced)
        {
            return null;
        }
        return ns ?? Namespace ?? throw ApiErrors.BadRequest($"a namespace is required: {Type.Plural} are namespaced and this client has no namespace");
    }

    private static string RequireName(string? name) =>
        string.IsNullOrEmpty(name) ? throw ApiErrors.BadRequest("metadata.name is required: name the object") : name;

    private static string RandomSuffix()
    {
        Span<char> chars = stackalloc char[5];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = SuffixAlphabet[Random.Shared.Next(SuffixAlphabet.Length)];
        }
        return new string(chars);
    }
}
