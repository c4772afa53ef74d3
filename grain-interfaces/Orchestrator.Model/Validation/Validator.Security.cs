using Orchestrator.Model;

namespace Orchestrator.Validation;

/// <summary>
/// Validation of a pod's security settings: host namespaces, security contexts, host ports.
/// Kubernetes' rules first (ids, seccomp types, capability names, port ranges); then every
/// setting the node agent cannot honour is refused by name rather than accepted and ignored,
/// because a pod that asks for uid 1000 and runs as root is worse than a pod refused.
/// </summary>
public static partial class Validator
{
    /// <summary>Why the unsupported settings are refused: the agent drives containerd 1.6 through
    /// <c>ctr run</c>, which has no flag for a process user or group, for the pid or ipc namespace of
    /// the host, for volume ownership, or for host ports.</summary>
    private const string NotSupportedByRuntime = "not supported by this cluster's node agent (containerd through ctr)";

    private static readonly string[] SeccompTypes = [SeccompProfileType.RuntimeDefault, SeccompProfileType.Localhost, SeccompProfileType.Unconfined];
    private static readonly string[] ProcMountTypes = ["Default", "Unmasked"];

    /// <summary>The Linux capabilities (capabilities(7)), as Kubernetes names them: without
    /// the CAP_ prefix.</summary>
    public static readonly IReadOnlySet<string> CapabilityNames = new HashSet<string>(StringComparer.Ordinal)
    {
        "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "CHOWN",
        "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE",
        "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE",
        "NET_BROADCAST", "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_ADMIN",
        "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "SYSLOG", "WAKE_ALARM",
    };

    /// <summary>A capability as Kubernetes compares them: containerd accepts both "CHOWN" and
    /// "CAP_CHOWN", so the prefix is not part of the name.</summary>
    public static string CapabilityName(string name) =>
        name.StartsWith("CAP_", StringComparison.Ordinal) ? name[4..] : name;

    private static void PodSecurity(PodSpec spec, string path, FieldErrors e)
    {
        if (spec.HostNetwork == true)
        {
            e.Forbidden($"{path}.hostNetwork", NotSupportedByRuntime);
        }
        if (spec.HostPID == true)
        {
            e.Forbidden($"{path}.hostPID", NotSupportedByRuntime);
        }
        if (spec.HostIPC == true)
        {
            e.Forbidden($"{path}.hostIPC", NotSupportedByRuntime);
        }
        if (spec.SecurityContext is { } sc)
        {
            var sp = $"{path}.securityContext";
            RunAsId(sc.RunAsUser, $"{sp}.runAsUser", e);
            RunAsId(sc.RunAsGroup, $"{sp}.runAsGroup", e);
            RunAsId(sc.FsGroup, $"{sp}.fsGroup", e);
            if (sc.SupplementalGroups is { Count: > 0 } groups)
            {
                for (var i = 0; i < groups.Count; i++)
                {
                    if (groups[i] is < 0 or > int.MaxValue)
                    {
                        e.Invalid($"{sp}.supplementalGroups[{i}]", groups[i], "must be between 0 and 2147483647, inclusive");
                    }
                }
                e.Forbidden($"{sp}.supplementalGroups", NotSupportedByRuntime);
            }
            Seccomp(sc.SeccompProfile, $"{sp}.seccompProfile", e);
        }
        for (var i = 0; i < spec.Containers.Count; i++)
        {
            ContainerSecurity(spec, spec.Containers[i], $"{path}.containers[{i}]", e);
        }
    }

    private static void ContainerSecurity(PodSpec spec, Container c, string path, FieldErrors e)
    {
        var ports = c.Ports ?? [];
        for (var i = 0; i < ports.Count; i++)
        {
            var p = ports[i];
            var pp = $"{path}.ports[{i}]";
            if (p.HostPort is { } hostPort and not 0)
            {
                if (!Names.IsValidPortNumber(hostPort))
                {
                    e.Invalid($"{pp}.hostPort", hostPort, "must be between 1 and 65535, inclusive");
                }
                else if (spec.HostNetwork == true && hostPort != p.Port)
                {
                    e.Invalid($"{pp}.hostPort", hostPort, "must match `containerPort` when `hostNetwork` is true");
                }
                else
                {
                    e.Forbidden($"{pp}.hostPort", NotSupportedByRuntime);
                }
            }
            if (!string.IsNullOrEmpty(p.HostIP))
            {
                e.Forbidden($"{pp}.hostIP", NotSupportedByRuntime);
            }
        }
        if (c.SecurityContext is not { } sc)
        {
            return;
        }
        var sp = $"{path}.securityContext";
        RunAsId(sc.RunAsUser, $"{sp}.runAsUser", e);
        RunAsId(sc.RunAsGroup, $"{sp}.runAsGroup", e);
        Seccomp(sc.SeccompProfile, $"{sp}.seccompProfile", e);
        if (sc.ProcMount is { } procMount)
        {
            if (!ProcMountTypes.Contains(procMount))
            {
                e.NotSupported($"{sp}.procMount", procMount, ProcMountTypes);
            }
            else if (procMount != "Default")
            {
                e.Forbidden($"{sp}.procMount", NotSupportedByRuntime);
            }
        }
        Capabilities(sc.Capabilities?.Add, $"{sp}.capabilities.add", e);
        Capabilities(sc.Capabilities?.Drop, $"{sp}.capabilities.drop", e);
        // Kubernetes' ValidateSecurityContext: no_new_privs cannot hold for a process that is
        // given every privilege anyway.
        if (sc.AllowPrivilegeEscalation == false)
        {
            if (sc.Privileged == true)
            {
                e.Invalid($"{sp}", "", "cannot set `allowPrivilegeEscalation` to false and `privileged` to true");
            }
            if (sc.Capabilities?.Add?.Any(a => CapabilityName(a) == "SYS_ADMIN") == true)
            {
                e.Invalid($"{sp}", "", "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN");
            }
        }
    }

    /// <summary>Kubernetes' ValidateNonnegativeField plus the 32-bit range of Linux ids; then
    /// refused, as ctr cannot run a process as another user.</summary>
    private static void RunAsId(long? id, string path, FieldErrors e)
    {
        if (id is null)
        {
            return;
        }
        if (id is < 0 or > int.MaxValue)
        {
            e.Invalid(path, id.Value, "must be between 0 and 2147483647, inclusive");
            return;
        }
        e.Forbidden(path, NotSupportedByRuntime);
    }

    private static void Seccomp(SeccompProfile? profile, string path, FieldErrors e)
    {
        if (profile is null)
        {
            return;
        }
        if (string.IsNullOrEmpty(profile.Type))
        {
            e.Required($"{path}.type");
        }
        else if (!SeccompTypes.Contains(profile.Type))
        {
            e.NotSupported($"{path}.type", profile.Type, SeccompTypes);
        }
        if (profile.Type == SeccompProfileType.Localhost)
        {
            if (string.IsNullOrEmpty(profile.LocalhostProfile))
            {
                e.Required($"{path}.localhostProfile", "must be set when seccomp type is Localhost");
            }
            e.Forbidden($"{path}.type", $"\"Localhost\" is {NotSupportedByRuntime}");
        }
        else if (profile.LocalhostProfile is not null)
        {
            e.Invalid($"{path}.localhostProfile", profile.LocalhostProfile, "can only be set when seccomp type is Localhost");
        }
    }

    private static void Capabilities(IReadOnlyList<string>? names, string path, FieldErrors e)
    {
        for (var i = 0; i < (names?.Count ?? 0); i++)
        {
            var name = names![i];
            if (name != "ALL" && !CapabilityNames.Contains(CapabilityName(name)))
            {
                e.Invalid($"{path}[{i}]", name, "must be ALL or a Linux capability such as NET_BIND_SERVICE");
            }
        }
    }
}
