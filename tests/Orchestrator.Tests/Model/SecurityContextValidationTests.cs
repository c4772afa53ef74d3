using System.Text.Json.Nodes;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Validation;

namespace Orchestrator.Tests.Model;

public sealed class SecurityContextValidationTests
{
    private static FieldErrors Check(PodSpec spec) =>
        Validator.Validate(Defaults.Pod(new Pod { Metadata = new ObjectMeta { Name = "p", Namespace = "default" }, Spec = spec }), null);

    private static PodSpec WithContainer(SecurityContext? sc = null, ContainerPort? port = null) => new()
    {
        Containers = [new Container { Name = "c", Image = "busybox:1", SecurityContext = sc, Ports = port is null ? null : [port] }],
    };

    [Fact]
    public void DecodesTheKubernetesFieldNames()
    {
        var pod = ResourceJson.Decode<Pod>(JsonNode.Parse("""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"hostNetwork":false,"hostPID":false,"hostIPC":false,
             "securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
             "containers":[{"name":"c","image":"busybox","ports":[{"containerPort":80,"hostPort":8080,"hostIP":"127.0.0.1"}],
               "securityContext":{"privileged":false,"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,
                 "capabilities":{"drop":["ALL"],"add":["NET_BIND_SERVICE"]},"procMount":"Default"}}]}}
            """)!);
        Assert.Equal(false, pod.Spec.HostPID);
        Assert.Equal(true, pod.Spec.SecurityContext?.RunAsNonRoot);
        Assert.Equal(8080, pod.Spec.Containers[0].Ports![0].HostPort);
        Assert.Equal("127.0.0.1", pod.Spec.Containers[0].Ports![0].HostIP);
        Assert.Equal(["ALL"], pod.Spec.Containers[0].SecurityContext!.Capabilities!.Drop!);
    }

    [Fact]
    public void AcceptsWhatTheAgentHonours() => Assert.Empty(Check(WithContainer(new SecurityContext
    {
        Privileged = false,
        AllowPrivilegeEscalation = false,
        ReadOnlyRootFilesystem = true,
        RunAsNonRoot = true,
        Capabilities = new Capabilities { Drop = ["ALL"], Add = ["NET_BIND_SERVICE", "CAP_CHOWN"] },
        SeccompProfile = new SeccompProfile { Type = "RuntimeDefault" },
        ProcMount = "Default",
    })));

    public static TheoryData<string, SecurityContext, string, string> ContainerCases => new()
    {
        { "negative uid", new() { RunAsUser = -1 }, "spec.containers[0].securityContext.runAsUser", "must be between 0 and 2147483647" },
        { "uid unsupported", new() { RunAsUser = 1000 }, "spec.containers[0].securityContext.runAsUser", "not supported" },
        { "gid unsupported", new() { RunAsGroup = 1000 }, "spec.containers[0].securityContext.runAsGroup", "not supported" },
        { "seccomp type", new() { SeccompProfile = new() { Type = "Strict" } }, "spec.containers[0].securityContext.seccompProfile.type", "Unsupported value: \"Strict\"" },
        { "localhost profile without Localhost", new() { SeccompProfile = new() { Type = "RuntimeDefault", LocalhostProfile = "p.json" } }, "spec.containers[0].securityContext.seccompProfile.localhostProfile", "can only be set" },
        { "Localhost unsupported", new() { SeccompProfile = new() { Type = "Localhost", LocalhostProfile = "p.json" } }, "spec.containers[0].securityContext.seccompProfile.type", "not supported" },
        { "capability name", new() { Capabilities = new() { Add = ["NET_FLY"] } }, "spec.containers[0].securityContext.capabilities.add[0]", "Linux capability" },
        { "procMount", new() { ProcMount = "Unmasked" }, "spec.containers[0].securityContext.procMount", "not supported" },
        { "escalation with privileged", new() { Privileged = true, AllowPrivilegeEscalation = false }, "spec.containers[0].securityContext", "`privileged` to true" },
        { "escalation with SYS_ADMIN", new() { AllowPrivilegeEscalation = false, Capabilities = new() { Add = ["SYS_ADMIN"] } }, "spec.containers[0].securityContext", "CAP_SYS_ADMIN" },
    };

    [Theory]
    [MemberData(nameof(ContainerCases))]
    public void RefusesContainerSettings(string name, SecurityContext sc, string field, string message)
    {
        var errors = Check(WithContainer(sc));
        Assert.True(errors.Any(e => e.Field == field && e.Body.Contains(message, StringComparison.Ordinal)), $"{name}: {string.Join("; ", errors)}");
    }

    [Theory]
    [InlineData(70000, false, "must be between 1 and 65535")]
    [InlineData(81, true, "must match `containerPort` when `hostNetwork` is true")]
    [InlineData(8080, false, "not supported")]
    public void HostPorts(int hostPort, bool hostNetwork, string message)
    {
        var spec = WithContainer(port: new ContainerPort { Port = 80, HostPort = hostPort }) with { HostNetwork = hostNetwork };
        Assert.Contains(Check(spec), e => e.Field == "spec.containers[0].ports[0].hostPort" && e.Body.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void RefusesHostNamespacesAndPodIdsTheAgentCannotHonour()
    {
        var spec = WithContainer() with
        {
            HostPID = true,
            HostIPC = true,
            SecurityContext = new PodSecurityContext { FsGroup = 2000, SupplementalGroups = [3000], SeccompProfile = new() { Type = "Unconfined" } },
        };
        var fields = Check(spec).Select(e => e.Field).ToList();
        Assert.Equal(["spec.hostPID", "spec.hostIPC", "spec.securityContext.fsGroup", "spec.securityContext.supplementalGroups"], fields);
    }
}
