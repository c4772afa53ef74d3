using Orchestrator.Model;

namespace Orchestrator.Validation;

/// <summary>Validation of a Namespace.</summary>
public static partial class Validator
{
    public static void Namespace(Namespace ns, Namespace? old, FieldErrors e)
    {
        if (ns.Status?.Phase is { } phase && phase is not ("Active" or "Terminating"))
        {
            e.NotSupported("status.phase", phase, ["Active", "Terminating"]);
        }
        PodSecurityLabelValues(ns.Metadata.Labels, e);
    }

    /// <summary>Kubernetes' Pod Security admission refuses a namespace whose labels it could not
    /// apply, naming the label: a typo must not leave a namespace unprotected.</summary>
    private static void PodSecurityLabelValues(IReadOnlyDictionary<string, string>? labels, FieldErrors e)
    {
        foreach (var mode in PodSecurityLabels.Modes)
        {
            if (labels?.TryGetValue(mode, out var level) == true && !PodSecurityLabels.Levels.Contains(level))
            {
                e.Invalid($"metadata.labels[{mode}]", level, $"must be one of {string.Join(", ", PodSecurityLabels.Levels)}");
            }
            var versionLabel = mode + PodSecurityLabels.VersionSuffix;
            if (labels?.TryGetValue(versionLabel, out var version) == true && !PodSecurityLabels.IsValidVersion(version))
            {
                e.Invalid($"metadata.labels[{versionLabel}]", version, "must be \"latest\" or of the form \"v1.x\"");
            }
        }
    }
}
