using Orchestrator.Model;
using Orchestrator.Validation;

namespace Orchestrator.Grains.Security;

/// <summary>A level of the Pod Security Standards and the version its namespace label names
/// ("baseline:latest").</summary>
public sealed record PodSecurityLevel(string Level, string Version)
{
    public bool IsPrivileged => Level == PodSecurityLabels.Privileged;

    public override string ToString() => $"{Level}:{Version}";
}

/// <summary>One failed check, worded as Kubernetes' CheckResult: a short reason ("privileged")
/// and what exactly is wrong ("container \"c\" must not set securityContext.privileged=true").</summary>
public sealed record PodSecurityViolation(string Reason, string Detail)
{
    public override string ToString() => $"{Reason} ({Detail})";
}

/// <summary>
/// Kubernetes' Pod Security Standards (pod-security-admission, policy checks of the latest
/// version) for what our pods can express. The checks run in the order of their Kubernetes
/// ids, so a message lists its reasons as Kubernetes would. Every version label is evaluated
/// with the latest checks: we keep one version of the standards.
/// Checks for fields our pods do not have (sysctls, AppArmor, SELinux, Windows, hostProcess)
/// have nothing to find.
/// </summary>
public static class PodSecurity
{
    /// <summary>The capabilities the baseline level lets a container add (Docker's default set).</summary>
    private static readonly HashSet<string> BaselineCapabilities = new(StringComparer.Ordinal)
    {
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
        "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    };

    /// <summary>Volume sources the restricted level allows; of ours, emptyDir.</summary>
    private static bool IsRestrictedVolumeType(Volume v) => v.HostPath is not null;

    /// <summary>The checks a pod spec fails at <paramref name="level"/>; none at privileged.</summary>
    public static IReadOnlyList<PodSecurityViolation> Check(string level, PodSpec spec)
    {
        var found = new List<PodSecurityViolation>();
        if (level is not (PodSecurityLabels.Baseline or PodSecurityLabels.Restricted))
        {
            return found;
        }
        var restricted = level == PodSecurityLabels.Restricted;
        var containers = spec.Containers;
        if (restricted)
        {
            AllowPrivilegeEscalation(containers, found);
        }
        BaselineCapabilitiesCheck(containers, found);
        if (restricted)
        {
            RestrictedCapabilities(containers, found);
        }
        HostNamespaces(spec, found);
        HostPathVolumes(spec, found);
        HostPorts(containers, found);
        Privileged(containers, found);
        ProcMount(containers, found);
        if (restricted)
        {
            RestrictedVolumes(spec, found);
            RunAsNonRoot(spec, found);
            RunAsUser(spec, found);
            RestrictedSeccomp(spec, found);
        }
        else
        {
            BaselineSeccomp(spec, found);
        }
        return found;
    }

    /// <summary>Kubernetes' denial message: <c>violates PodSecurity "baseline:latest": a (..), b (..)</c>.</summary>
    public static string Describe(PodSecurityLevel level, IReadOnlyList<PodSecurityViolation> violations) =>
        $"violates {Summary(level, violations)}";

    /// <summary>The message without its verb: <c>PodSecurity "baseline:latest": a (..), b (..)</c>.</summary>
    public static string Summary(PodSecurityLevel level, IReadOnlyList<PodSecurityViolation> violations) =>
        $"PodSecurity \"{level}\": {string.Join(", ", violations)}";

    /// <summary>The level a namespace sets for a mode (enforce, warn or audit), or
    /// <paramref name="fallback"/> when it sets none. Namespace validation refuses invalid labels,
    /// so an invalid value here comes from before they were checked: it counts as restricted,
    /// Kubernetes' choice for a label it cannot parse.</summary>
    public static PodSecurityLevel LevelOf(Namespace? ns, string mode, PodSecurityLevel fallback)
    {
        var level = ns?.Metadata.Label(mode);
        var version = ns?.Metadata.Label(mode + PodSecurityLabels.VersionSuffix);
        if (level is null)
        {
            return version is null ? fallback : fallback with { Version = version };
        }
        if (!PodSecurityLabels.Levels.Contains(level))
        {
            level = PodSecurityLabels.Restricted;
        }
        return new PodSecurityLevel(level, version is not null && PodSecurityLabels.IsValidVersion(version) ? version : PodSecurityLabels.Latest);
    }

    private static string Containers(IReadOnlyList<string> names) =>
        $"{(names.Count == 1 ? "container" : "containers")} {Quoted(names)}";

    private static string Quoted(IEnumerable<string> values) => string.Join(", ", values.Select(v => $"\"{v}\""));

    private static void Add(List<PodSecurityViolation> found, string reason, IEnumerable<string> details)
    {
        var list = details.ToList();
        if (list.Count > 0)
        {
            found.Add(new PodSecurityViolation(reason, string.Join("; ", list)));
        }
    }

    private static void AllowPrivilegeEscalation(IReadOnlyList<Container> containers, List<PodSecurityViolation> found)
    {
        var bad = containers.Where(c => c.SecurityContext?.AllowPrivilegeEscalation != false).Select(c => c.Name).ToList();
        if (bad.Count > 0)
        {
            found.Add(new("allowPrivilegeEscalation != false", $"{Containers(bad)} must set securityContext.allowPrivilegeEscalation=false"));
        }
    }

    private static void BaselineCapabilitiesCheck(IReadOnlyList<Container> containers, List<PodSecurityViolation> found)
    {
        var bad = containers
            .Select(c => (c.Name, Caps: (c.SecurityContext?.Capabilities?.Add ?? []).Where(a => !BaselineCapabilities.Contains(Validator.CapabilityName(a))).Distinct().ToList()))
            .Where(x => x.Caps.Count > 0)
            .ToList();
        if (bad.Count > 0)
        {
            var caps = bad.SelectMany(x => x.Caps).Distinct().ToList();
            found.Add(new("non-default capabilities", $"{Containers(bad.Select(x => x.Name).ToList())} must not include {Quoted(caps)} in securityContext.capabilities.add"));
        }
    }

    private static void RestrictedCapabilities(IReadOnlyList<Container> containers, List<PodSecurityViolation> found)
    {
        var noDrop = containers.Where(c => !(c.SecurityContext?.Capabilities?.Drop ?? []).Contains("ALL")).Select(c => c.Name).ToList();
        var adds = containers
            .Select(c => (c.Name, Caps: (c.SecurityContext?.Capabilities?.Add ?? []).Where(a => Validator.CapabilityName(a) != "NET_BIND_SERVICE").Distinct().ToList()))
            .Where(x => x.Caps.Count > 0)
            .ToList();
        var details = new List<string>();
        if (noDrop.Count > 0)
        {
            details.Add($"{Containers(noDrop)} must set securityContext.capabilities.drop=[\"ALL\"]");
        }
        if (adds.Count > 0)
        {
            details.Add($"{Containers(adds.Select(x => x.Name).ToList())} must not include {Quoted(adds.SelectMany(x => x.Caps).Distinct())} in securityContext.capabilities.add");
        }
        Add(found, "unrestricted capabilities", details);
    }

    private static void HostNamespaces(PodSpec spec, List<PodSecurityViolation> found)
    {
        var set = new List<string>();
        if (spec.HostNetwork == true)
        {
            set.Add("hostNetwork=true");
        }
        if (spec.HostPID == true)
        {
            set.Add("hostPID=true");
        }
        if (spec.HostIPC == true)
        {
            set.Add("hostIPC=true");
        }
        if (set.Count > 0)
        {
            found.Add(new("host namespaces", string.Join(", ", set)));
        }
    }

    private static void HostPathVolumes(PodSpec spec, List<PodSecurityViolation> found)
    {
        var names = (spec.Volumes ?? []).Where(v => v.HostPath is not null).Select(v => v.Name).ToList();
        if (names.Count > 0)
        {
            found.Add(new("hostPath volumes", $"{(names.Count == 1 ? "volume" : "volumes")} {Quoted(names)}"));
        }
    }

    private static void HostPorts(IReadOnlyList<Container> containers, List<PodSecurityViolation> found)
    {
        // Kubernetes' baseline allows no host port (its allowed list is empty).
        var bad = containers
            .Select(c => (c.Name, Ports: (c.Ports ?? []).Where(p => p.HostPort is > 0).Select(p => p.HostPort!.Value).ToList()))
            .Where(x => x.Ports.Count > 0)
            .ToList();
        if (bad.Count > 0)
        {
            var ports = bad.SelectMany(x => x.Ports).Distinct().ToList();
            var uses = bad.Count == 1 ? "uses" : "use";
            found.Add(new("hostPort", $"{Containers(bad.Select(x => x.Name).ToList())} {uses} {(ports.Count == 1 ? "hostPort" : "hostPorts")} {string.Join(", ", ports)}"));
        }
    }

    private static void Privileged(IReadOnlyList<Container> containers, List<PodSecurityViolation> found)
    {
        var bad = containers.Where(c => c.IsPrivileged()).Select(c => c.Name).ToList();
        if (bad.Count > 0)
        {
            found.Add(new("privileged", $"{Containers(bad)} must not set securityContext.privileged=true"));
        }
    }

    private static void ProcMount(IReadOnlyList<Container> containers, List<PodSecurityViolation> found)
    {
        var bad = containers.Where(c => c.SecurityContext?.ProcMount is { } m && m != "Default").ToList();
        if (bad.Count > 0)
        {
            var values = bad.Select(c => c.SecurityContext!.ProcMount!).Distinct();
            found.Add(new("procMount", $"{Containers(bad.Select(c => c.Name).ToList())} must not set securityContext.procMount to {Quoted(values)}"));
        }
    }

    private static void RestrictedVolumes(PodSpec spec, List<PodSecurityViolation> found)
    {
        var bad = (spec.Volumes ?? []).Where(IsRestrictedVolumeType).Select(v => v.Name).ToList();
        if (bad.Count > 0)
        {
            var volumes = bad.Count == 1 ? "volume" : "volumes";
            var uses = bad.Count == 1 ? "uses restricted volume type" : "use restricted volume type";
            found.Add(new("restricted volume types", $"{volumes} {Quoted(bad)} {uses} \"hostPath\""));
        }
    }

    private static void RunAsNonRoot(PodSpec spec, List<PodSecurityViolation> found)
    {
        var podTrue = spec.SecurityContext?.RunAsNonRoot == true;
        var details = new List<string>();
        if (spec.SecurityContext?.RunAsNonRoot == false)
        {
            details.Add("pod must not set securityContext.runAsNonRoot=false");
        }
        var explicitFalse = spec.Containers.Where(c => c.SecurityContext?.RunAsNonRoot == false).Select(c => c.Name).ToList();
        if (explicitFalse.Count > 0)
        {
            details.Add($"{Containers(explicitFalse)} must not set securityContext.runAsNonRoot=false");
        }
        var unset = podTrue ? [] : spec.Containers.Where(c => c.SecurityContext?.RunAsNonRoot is null).Select(c => c.Name).ToList();
        if (unset.Count > 0)
        {
            details.Add($"pod or {Containers(unset)} must set securityContext.runAsNonRoot=true");
        }
        Add(found, "runAsNonRoot != true", details);
    }

    private static void RunAsUser(PodSpec spec, List<PodSecurityViolation> found)
    {
        var details = new List<string>();
        if (spec.SecurityContext?.RunAsUser == 0)
        {
            details.Add("pod must not set runAsUser=0");
        }
        var bad = spec.Containers.Where(c => c.SecurityContext?.RunAsUser == 0).Select(c => c.Name).ToList();
        if (bad.Count > 0)
        {
            details.Add($"{Containers(bad)} must not set runAsUser=0");
        }
        Add(found, "runAsUser=0", details);
    }

    private static void BaselineSeccomp(PodSpec spec, List<PodSecurityViolation> found)
    {
        var details = new List<string>();
        if (spec.SecurityContext?.SeccompProfile?.Type == SeccompProfileType.Unconfined)
        {
            details.Add("pod must not set securityContext.seccompProfile.type to \"Unconfined\"");
        }
        var bad = spec.Containers.Where(c => c.SecurityContext?.SeccompProfile?.Type == SeccompProfileType.Unconfined).Select(c => c.Name).ToList();
        if (bad.Count > 0)
        {
            details.Add($"{Containers(bad)} must not set securityContext.seccompProfile.type to \"Unconfined\"");
        }
        Add(found, "seccompProfile", details);
    }

    private static void RestrictedSeccomp(PodSpec spec, List<PodSecurityViolation> found)
    {
        static bool Allowed(string? type) => type is SeccompProfileType.RuntimeDefault or SeccompProfileType.Localhost;
        var details = new List<string>();
        var podType = spec.SecurityContext?.SeccompProfile?.Type;
        if (podType is not null && !Allowed(podType))
        {
            details.Add($"pod must not set securityContext.seccompProfile.type to \"{podType}\"");
        }
        var badValue = spec.Containers.Where(c => c.SecurityContext?.SeccompProfile?.Type is { } t && !Allowed(t)).ToList();
        if (badValue.Count > 0)
        {
            details.Add($"{Containers(badValue.Select(c => c.Name).ToList())} must not set securityContext.seccompProfile.type to {Quoted(badValue.Select(c => c.SecurityContext!.SeccompProfile!.Type).Distinct())}");
        }
        var unset = Allowed(podType) ? [] : spec.Containers.Where(c => c.SecurityContext?.SeccompProfile is null).Select(c => c.Name).ToList();
        if (unset.Count > 0)
        {
            details.Add($"pod or {Containers(unset)} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"");
        }
        Add(found, "seccompProfile", details);
    }
}

/// <summary>Where the levels come from: a namespace's labels, else the configured defaults;
/// exempt namespaces are privileged in every mode.</summary>
public static class PodSecurityPolicy
{
    public static PodSecurityLevel LevelFor(string? nsName, Namespace? ns, string mode, PodSecurityOptions options)
    {
        if (nsName is not null && options.ExemptNamespaces.Contains(nsName))
        {
            return new PodSecurityLevel(PodSecurityLabels.Privileged, PodSecurityLabels.Latest);
        }
        var fallback = mode switch
        {
            PodSecurityLabels.Enforce => options.DefaultEnforce,
            PodSecurityLabels.Warn => options.DefaultWarn,
            _ => options.DefaultAudit,
        };
        return PodSecurity.LevelOf(ns, mode, new PodSecurityLevel(fallback, PodSecurityLabels.Latest));
    }

    /// <summary>Kubernetes' enforce mode for a pod being created: 403 with every failed check.</summary>
    public static void Enforce(Pod pod, Namespace? ns, PodSecurityOptions options)
    {
        var level = LevelFor(pod.Metadata.Namespace, ns, PodSecurityLabels.Enforce, options);
        var violations = PodSecurity.Check(level.Level, pod.Spec);
        if (violations.Count > 0)
        {
            throw ApiErrors.Forbidden(ResourceTypes.Pod, pod.Metadata.Name ?? "", PodSecurity.Describe(level, violations));
        }
    }

    /// <summary>
    /// The warnings of a write, as Kubernetes' warn mode words them ("would violate PodSecurity
    /// ..."): for a pod, the warn level; for a workload's pod template, the enforce level too, as
    /// a template is never refused (the controller's pods would be).
    /// </summary>
    /// <summary>Kubernetes' audit mode: what the audit level would refuse, for the audit event's
    /// pod-security.kubernetes.io/audit-violations annotation; null when nothing.</summary>
    public static string? AuditViolations(string? nsName, Namespace? ns, PodSpec spec, PodSecurityOptions options)
    {
        var level = LevelFor(nsName, ns, PodSecurityLabels.Audit, options);
        var violations = PodSecurity.Check(level.Level, spec);
        return violations.Count == 0 ? null : $"would violate {PodSecurity.Summary(level, violations)}";
    }

    public static IReadOnlyList<string> Warnings(string? nsName, Namespace? ns, PodSpec spec, bool template, PodSecurityOptions options)
    {
        var warnings = new List<string>();
        var modes = template ? new[] { PodSecurityLabels.Enforce, PodSecurityLabels.Warn } : [PodSecurityLabels.Warn];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var mode in modes)
        {
            var level = LevelFor(nsName, ns, mode, options);
            if (!seen.Add(level.ToString()))
            {
                continue;
            }
            var violations = PodSecurity.Check(level.Level, spec);
            if (violations.Count > 0)
            {
                warnings.Add($"would violate {PodSecurity.Summary(level, violations)}");
            }
        }
        return warnings;
    }
}
