namespace Orchestrator.Model;

/// <summary>Kubernetes' <c>PodSecurityContext</c>: what applies to every container of the pod
/// unless the container's own <see cref="SecurityContext"/> says otherwise.</summary>
[GenerateSerializer, Immutable, Alias("orch.PodSecurityContext")]
public sealed record PodSecurityContext
{
    [Id(0)] public long? RunAsUser { get; init; }
    [Id(1)] public long? RunAsGroup { get; init; }
    [Id(2)] public bool? RunAsNonRoot { get; init; }
    [Id(3)] public IReadOnlyList<long>? SupplementalGroups { get; init; }
    [Id(4)] public long? FsGroup { get; init; }
    [Id(5)] public SeccompProfile? SeccompProfile { get; init; }
}

/// <summary>Kubernetes' container <c>SecurityContext</c>; a field set here wins over the pod's.</summary>
[GenerateSerializer, Immutable, Alias("orch.SecurityContext")]
public sealed record SecurityContext
{
    [Id(0)] public bool? Privileged { get; init; }
    [Id(1)] public bool? AllowPrivilegeEscalation { get; init; }
    [Id(2)] public Capabilities? Capabilities { get; init; }
    [Id(3)] public bool? ReadOnlyRootFilesystem { get; init; }
    [Id(4)] public long? RunAsUser { get; init; }
    [Id(5)] public long? RunAsGroup { get; init; }
    [Id(6)] public bool? RunAsNonRoot { get; init; }
    [Id(7)] public SeccompProfile? SeccompProfile { get; init; }
    /// <summary>"Default" or "Unmasked".</summary>
    [Id(8)] public string? ProcMount { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.Capabilities")]
public sealed record Capabilities
{
    [Id(0)] public IReadOnlyList<string>? Add { get; init; }
    [Id(1)] public IReadOnlyList<string>? Drop { get; init; }
}

[GenerateSerializer, Immutable, Alias("orch.SeccompProfile")]
public sealed record SeccompProfile
{
    /// <summary>RuntimeDefault, Localhost or Unconfined.</summary>
    [Id(0)] public string Type { get; init; } = "";
    /// <summary>A path relative to the node's seccomp directory; only with Localhost.</summary>
    [Id(1)] public string? LocalhostProfile { get; init; }
}

public static class SeccompProfileType
{
    public const string RuntimeDefault = "RuntimeDefault";
    public const string Localhost = "Localhost";
    public const string Unconfined = "Unconfined";
}

/// <summary>What a container's process actually gets once the pod's and the container's
/// security contexts are merged, as the kubelet merges them (the container wins).</summary>
public static class SecurityContextExtensions
{
    public static bool IsPrivileged(this Container c) => c.SecurityContext?.Privileged == true;

    public static bool? EffectiveRunAsNonRoot(this Container c, PodSpec pod) =>
        c.SecurityContext?.RunAsNonRoot ?? pod.SecurityContext?.RunAsNonRoot;

    public static long? EffectiveRunAsUser(this Container c, PodSpec pod) =>
        c.SecurityContext?.RunAsUser ?? pod.SecurityContext?.RunAsUser;

    public static SeccompProfile? EffectiveSeccompProfile(this Container c, PodSpec pod) =>
        c.SecurityContext?.SeccompProfile ?? pod.SecurityContext?.SeccompProfile;
}
