using System.Text.Json.Nodes;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.Validation;

namespace Orchestrator.Client.Resources;

/// <summary>The /scale subresource as a call: a merge patch of <c>spec.replicas</c> applied by
/// the object's grain to its latest state, so it conflicts only when it names a resourceVersion
/// that is no longer current. A negative count is the API's 422 on <c>spec.replicas</c>.</summary>
internal static class Scaling
{
    public static Task<T> ScaleAsync<T>(ResourceClient<T> client, string name, int replicas, string? resourceVersion, CancellationToken cancellationToken)
        where T : class, IResource<T>
    {
        if (replicas < 0)
        {
            var errors = new FieldErrors();
            errors.Invalid("spec.replicas", replicas, "must be greater than or equal to 0");
            throw ApiErrors.Invalid(T.Type, name, errors);
        }
        var patch = new JsonObject { ["spec"] = new JsonObject { ["replicas"] = replicas } };
        if (!string.IsNullOrEmpty(resourceVersion))
        {
            patch["metadata"] = new JsonObject { ["resourceVersion"] = resourceVersion };
        }
        return client.PatchAsync(name, patch, cancellationToken);
    }
}

public sealed class DeploymentClient : ResourceClient<Deployment>
{
    internal DeploymentClient(IGrainFactory grains, string? ns, TimeProvider time) : base(grains, ns, time)
    {
    }

    /// <summary>Sets <c>spec.replicas</c> (kubectl scale); with <paramref name="resourceVersion"/>
    /// only if the deployment is still at that version.</summary>
    public Task<Deployment> ScaleAsync(string name, int replicas, string? resourceVersion = null, CancellationToken cancellationToken = default) =>
        Scaling.ScaleAsync(this, name, replicas, resourceVersion, cancellationToken);

    /// <summary>Puts the template of an earlier revision back as a new revision (kubectl rollout
    /// undo); 0: the revision before the current one.</summary>
    public Task<Deployment> RollbackAsync(string name, int revision = 0, CancellationToken cancellationToken = default)
    {
        if (revision < 0)
        {
            throw ApiErrors.BadRequest("rollbackTo.revision must be a non-negative integer");
        }
        var grain = Grains.GetGrain<IDeploymentGrain>(Grain(name).GetPrimaryKeyString());
        return CallAsync(() => grain.RollbackToAsync(revision), cancellationToken);
    }
}

public sealed class ReplicaSetClient : ResourceClient<ReplicaSet>
{
    internal ReplicaSetClient(IGrainFactory grains, string? ns, TimeProvider time) : base(grains, ns, time)
    {
    }

    public Task<ReplicaSet> ScaleAsync(string name, int replicas, string? resourceVersion = null, CancellationToken cancellationToken = default) =>
        Scaling.ScaleAsync(this, name, replicas, resourceVersion, cancellationToken);
}

public sealed class PodClient : ResourceClient<Pod>
{
    internal PodClient(IGrainFactory grains, string? ns, TimeProvider time) : base(grains, ns, time)
    {
    }

    /// <summary>Evicts the pod (policy/v1 Eviction, what kubectl drain does): a graceful delete
    /// with the eviction's delete options. 404 when the pod does not exist.</summary>
    public async Task EvictAsync(string name, DeleteOptions? options = null, CancellationToken cancellationToken = default)
    {
        await GetAsync(name, cancellationToken);
        await DeleteAsync(name, options, cancellationToken);
    }
}
