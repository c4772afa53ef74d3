using Orchestrator.Grains;
using Orchestrator.Grains.Security;
using Orchestrator.Model;

namespace Orchestrator.Tests.Security;

/// <summary>The Pod Security Standards checks, one pod shape per row, with Kubernetes' wording.</summary>
public sealed class PodSecurityTests
{
    private static Container C(string name = "c", SecurityContext? sc = null, int? hostPort = null) => new()
    {
        Name = name,
        Image = "busybox",
        SecurityContext = sc,
        Ports = hostPort is null ? null : [new ContainerPort { Port = 80, HostPort = hostPort }],
    };

    private static PodSpec Spec(params Container[] containers) => new() { Containers = containers };

    /// <summary>What passes restricted: every container drops ALL, no escalation, non-root, RuntimeDefault.</summary>
    private static SecurityContext Restricted => new()
    {
        AllowPrivilegeEscalation = false,
        Capabilities = new Capabilities { Drop = ["ALL"] },
        RunAsNonRoot = true,
        SeccompProfile = new SeccompProfile { Type = "RuntimeDefault" },
    };

    public static TheoryData<string, string, PodSpec, string> Cases => new()
    {
        { "plain pod is baseline", "baseline", Spec(C()), "" },
        { "privileged", "baseline", Spec(C(sc: new() { Privileged = true })), "privileged (container \"c\" must not set securityContext.privileged=true)" },
        { "two privileged", "baseline", Spec(C("a", new() { Privileged = true }), C("b", new() { Privileged = true })), "privileged (containers \"a\", \"b\" must not set securityContext.privileged=true)" },
        { "host namespaces", "baseline", Spec(C()) with { HostNetwork = true, HostPID = true }, "host namespaces (hostNetwork=true, hostPID=true)" },
        { "hostPath", "baseline", Spec(C()) with { Volumes = [new Volume { Name = "h", HostPath = new() { Path = "/tmp" } }] }, "hostPath volumes (volume \"h\")" },
        { "hostPort", "baseline", Spec(C(hostPort: 8080)), "hostPort (container \"c\" uses hostPort 8080)" },
        { "capability outside baseline", "baseline", Spec(C(sc: new() { Capabilities = new() { Add = ["NET_ADMIN", "CHOWN"] } })), "non-default capabilities (container \"c\" must not include \"NET_ADMIN\" in securityContext.capabilities.add)" },
        { "baseline capability", "baseline", Spec(C(sc: new() { Capabilities = new() { Add = ["CHOWN", "CAP_KILL"] } })), "" },
        { "procMount", "baseline", Spec(C(sc: new() { ProcMount = "Unmasked" })), "procMount (container \"c\" must not set securityContext.procMount to \"Unmasked\")" },
        { "seccomp unconfined", "baseline", Spec(C()) with { SecurityContext = new() { SeccompProfile = new() { Type = "Unconfined" } } }, "seccompProfile (pod must not set securityContext.seccompProfile.type to \"Unconfined\")" },
        { "ordered by check id", "baseline", Spec(C(sc: new() { Privileged = true })) with { HostNetwork = true }, "host namespaces (hostNetwork=true), privileged (container \"c\" must not set securityContext.privileged=true)" },
        { "privileged level allows all", "privileged", Spec(C(sc: new() { Privileged = true })) with { HostNetwork = true }, "" },
        { "restricted pod", "restricted", Spec(C(sc: Restricted)), "" },
        { "restricted pod-level fields", "restricted", Spec(C(sc: Restricted with { RunAsNonRoot = null, SeccompProfile = null })) with { SecurityContext = new() { RunAsNonRoot = true, SeccompProfile = new() { Type = "Localhost", LocalhostProfile = "p" } } }, "" },
        { "plain pod is not restricted", "restricted", Spec(C()),
            "allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), "
            + "unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), "
            + "runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), "
            + "seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")" },
        { "restricted adds only NET_BIND_SERVICE", "restricted", Spec(C(sc: Restricted with { Capabilities = new() { Drop = ["ALL"], Add = ["NET_BIND_SERVICE", "CHOWN"] } })), "unrestricted capabilities (container \"c\" must not include \"CHOWN\" in securityContext.capabilities.add)" },
        { "restricted runAsUser 0", "restricted", Spec(C(sc: Restricted with { RunAsUser = 0 })), "runAsUser=0 (container \"c\" must not set runAsUser=0)" },
        { "restricted runAsNonRoot false", "restricted", Spec(C(sc: Restricted with { RunAsNonRoot = false })), "runAsNonRoot != true (container \"c\" must not set securityContext.runAsNonRoot=false)" },
        { "restricted volume types", "restricted", Spec(C(sc: Restricted)) with { Volumes = [new Volume { Name = "h", HostPath = new() { Path = "/tmp" } }, new Volume { Name = "e", EmptyDir = new() }] },
            "hostPath volumes (volume \"h\"), restricted volume types (volume \"h\" uses restricted volume type \"hostPath\")" },
        { "restricted seccomp unconfined", "restricted", Spec(C(sc: Restricted with { SeccompProfile = new() { Type = "Unconfined" } })), "seccompProfile (container \"c\" must not set securityContext.seccompProfile.type to \"Unconfined\")" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Checks(string name, string level, PodSpec spec, string expected)
    {
        Assert.True(expected == string.Join(", ", PodSecurity.Check(level, spec)), $"{name}: {string.Join(", ", PodSecurity.Check(level, spec))}");
    }

    [Fact]
    public void LevelsComeFromLabelsThenDefaultsAndTheSystemNamespaceIsExempt()
    {
        var options = new PodSecurityOptions();
        Namespace Ns(params (string, string)[] labels) => new() { Metadata = new ObjectMeta { Name = "n", Labels = labels.ToDictionary(l => l.Item1, l => l.Item2) } };

        Assert.Equal("baseline:latest", PodSecurityPolicy.LevelFor("n", Ns(), PodSecurityLabels.Enforce, options).ToString());
        Assert.Equal("privileged:latest", PodSecurityPolicy.LevelFor("n", Ns(), PodSecurityLabels.Warn, options).ToString());
        Assert.Equal("restricted:v1.30", PodSecurityPolicy.LevelFor("n", Ns((PodSecurityLabels.Enforce, "restricted"), (PodSecurityLabels.Enforce + "-version", "v1.30")), PodSecurityLabels.Enforce, options).ToString());
        Assert.Equal("privileged:latest", PodSecurityPolicy.LevelFor("kube-system", Ns((PodSecurityLabels.Enforce, "restricted")), PodSecurityLabels.Enforce, options).ToString());
        Assert.Equal("restricted:latest", PodSecurityPolicy.LevelFor("n", Ns(), PodSecurityLabels.Enforce, new PodSecurityOptions { DefaultEnforce = "restricted" }).ToString());
    }

    [Fact]
    public void TemplatesWarnAtTheEnforceLevelAndPodsOnlyAtTheWarnLevel()
    {
        var options = new PodSecurityOptions();
        var ns = new Namespace { Metadata = new ObjectMeta { Name = "n", Labels = new Dictionary<string, string> { [PodSecurityLabels.Warn] = "restricted" } } };
        var spec = Spec(C(sc: new() { Privileged = true }));
        var template = PodSecurityPolicy.Warnings("n", ns, spec, template: true, options);
        Assert.Equal(2, template.Count);
        Assert.StartsWith("would violate PodSecurity \"baseline:latest\": privileged (", template[0], StringComparison.Ordinal);
        Assert.StartsWith("would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false", template[1], StringComparison.Ordinal);
        Assert.Single(PodSecurityPolicy.Warnings("n", ns, spec, template: false, options));
    }
}
