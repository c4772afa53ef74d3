using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Index;
using Orchestrator.Grains.Namespaces;
using Orchestrator.Model;
using Orchestrator.Validation;

namespace Orchestrator.Grains.Resources;

/// <summary>Cluster policy checked when pods and pod templates are written (Kubernetes'
/// admission), as opposed to validation, which needs no configuration.</summary>
public static class Admission
{
    /// <summary>hostPath volumes only under the configured roots: a pod must not be able to mount
    /// the node's /etc or the container runtime's state.</summary>
    public static void HostPaths(PodSpec spec, string path, IReadOnlyList<string> allowedRoots, FieldErrors errors)
    {
        var volumes = spec.Volumes ?? [];
        for (var i = 0; i < volumes.Count; i++)
        {
            if (volumes[i].HostPath is not { Path.Length: > 0 } hostPath)
            {
                continue;
            }
            var normalized = "/" + string.Join('/', hostPath.Path.Split('/', StringSplitOptions.RemoveEmptyEntries));
            var allowed = allowedRoots.Any(root =>
            {
                var r = root.TrimEnd('/');
                return r.Length == 0 || normalized == r || normalized.StartsWith(r + "/", StringComparison.Ordinal);
            });
            if (!allowed)
            {
                errors.Forbidden($"{path}.volumes[{i}].hostPath.path",
                    $"\"{hostPath.Path}\" is outside the allowed host path roots ({string.Join(", ", allowedRoots)}); set Orchestrator:AllowedHostPathRoots to allow it");
            }
        }
    }

    /// <summary>
    /// Kubernetes' ServiceAccount admission: a pod runs as a ServiceAccount that exists, or is
    /// refused (403) with the apiserver's message. The cache is asked first; a miss is asked
    /// again after the cache caught up and then of the ServiceAccount itself (one created through
    /// another silo a moment ago). The "default" one is made here when the namespace's controller
    /// has not made it yet: a pod created right after its namespace must not fail, as the
    /// apiserver's admission waits for the serviceaccounts controller in that case.
    /// </summary>
    public static async Task ServiceAccountExistsAsync(Pod pod, ResourceCache<ServiceAccount> cache, IGrainFactory grains)
    {
        var ns = pod.Metadata.Namespace!;
        var name = string.IsNullOrEmpty(pod.Spec.ServiceAccountName) ? ServiceAccount.DefaultName : pod.Spec.ServiceAccountName;
        var key = ServiceAccount.Type.Key(ns, name);
        if (await cache.GetAsync(key) is not null)
        {
            return;
        }
        await cache.SyncAsync();
        if (await cache.GetAsync(key) is not null || await grains.GetGrain<IServiceAccountGrain>(key).GetAsync() is not null)
        {
            return;
        }
        if (name == ServiceAccount.DefaultName)
        {
            await NamespaceGrain.EnsureDefaultServiceAccountAsync(grains, ns);
            return;
        }
        throw ApiErrors.Forbidden(Pod.Type, pod.Metadata.Name!,
            $"error looking up service account {ns}/{name}: serviceaccount \"{name}\" not found");
    }
}
