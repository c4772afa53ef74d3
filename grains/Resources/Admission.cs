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
}
