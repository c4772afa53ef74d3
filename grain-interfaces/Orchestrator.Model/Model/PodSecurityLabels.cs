namespace Orchestrator.Model;

/// <summary>
/// The namespace labels of Kubernetes' Pod Security admission: per mode (enforce, warn, audit)
/// a level and the version of the standards it refers to.
/// </summary>
public static class PodSecurityLabels
{
    public const string Prefix = "pod-security.kubernetes.io/";
    public const string Enforce = Prefix + "enforce";
    public const string Warn = Prefix + "warn";
    public const string Audit = Prefix + "audit";
    public const string VersionSuffix = "-version";

    public static readonly string[] Modes = [Enforce, Warn, Audit];

    public const string Privileged = "privileged";
    public const string Baseline = "baseline";
    public const string Restricted = "restricted";
    public const string Latest = "latest";

    public static readonly string[] Levels = [Privileged, Baseline, Restricted];

    /// <summary>"latest" or "v1.N", as Kubernetes' api.ParseVersion accepts them.</summary>
    public static bool IsValidVersion(string version) =>
        version == Latest
        || (version.StartsWith("v1.", StringComparison.Ordinal) && version.Length > 3
            && version[3..].All(char.IsAsciiDigit) && (version.Length == 4 || version[3] != '0'));
}
