using Orchestrator.Model;
using Orchestrator.Validation;

namespace Orchestrator.Tests.Model;

public sealed class ValidationTests
{
    private static FieldErrors Check<T>(T obj) where T : class, IResource<T> => Validator.Validate(T.ApplyDefaults(obj), null);

    private static Deployment ValidDeployment() => new()
    {
        Metadata = new ObjectMeta { Name = "web", Namespace = "default" },
        Spec = new DeploymentSpec
        {
            Replicas = 2,
            Selector = new LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "web" } },
            Template = new PodTemplateSpec
            {
                Metadata = new ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "web" } },
                Spec = new PodSpec { Containers = [new Container { Name = "web", Image = "busybox:1" }] },
            },
        },
    };

    [Fact]
    public void AValidDeploymentHasNoErrors() => Assert.Empty(Check(ValidDeployment()));

    [Fact]
    public void ReportsEveryProblemAtOnceEachNamingItsField()
    {
        var d = ValidDeployment();
        d = d with
        {
            Metadata = d.Metadata with { Name = "Web Server" },
            Spec = d.Spec with
            {
                Replicas = -1,
                MinReadySeconds = -5,
                Template = d.Spec.Template with
                {
                    Metadata = new ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "other" } },
                    Spec = new PodSpec
                    {
                        RestartPolicy = "Sometimes",
                        Containers =
                        [
                            new Container
                            {
                                Name = "web",
                                Image = "",
                                Ports = [new ContainerPort { Port = 70000 }],
                                LivenessProbe = new Probe { PeriodSeconds = 0 },
                                Resources = new ResourceRequirements { Limits = new Dictionary<string, Quantity> { ["memory"] = "lots" } },
                            },
                            new Container { Name = "web", Image = "busybox" },
                        ],
                    },
                },
            },
        };
        var fields = Check(d).Select(e => e.Field).ToHashSet();
        string[] expected =
        [
            "metadata.name",
            "spec.replicas",
            "spec.minReadySeconds",
            "spec.template.metadata.labels",
            "spec.template.spec.restartPolicy",
            "spec.template.spec.containers[0].image",
            "spec.template.spec.containers[0].ports[0].containerPort",
            "spec.template.spec.containers[0].livenessProbe",
            "spec.template.spec.containers[0].livenessProbe.periodSeconds",
            "spec.template.spec.containers[0].resources.limits[memory]",
            "spec.template.spec.containers[1].name",
        ];
        foreach (var field in expected)
        {
            Assert.Contains(field, fields);
        }
    }

    [Fact]
    public void NegativeReplicasIsWordedAsKubernetesWordsIt()
    {
        var d = ValidDeployment() with { Spec = ValidDeployment().Spec with { Replicas = -1 } };
        var error = Assert.Single(Check(d));
        Assert.Equal("spec.replicas: Invalid value: -1: must be greater than or equal to 0", error.ToString());
        Assert.Equal("FieldValueInvalid", error.Reason);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("a/b")]
    [InlineData("x;rm -rf /")]
    [InlineData("$(reboot)")]
    [InlineData("UPPER")]
    [InlineData("-leading")]
    [InlineData("")]
    public void RejectsBadNames(string name)
    {
        var errors = Check(new Pod { Metadata = new ObjectMeta { Name = name, Namespace = "default" }, Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "i" }] } });
        Assert.Contains(errors, e => e.Field == "metadata.name");
    }

    [Fact]
    public void RejectsA300CharacterName()
    {
        var errors = Check(new ReplicaSet { Metadata = new ObjectMeta { Name = new string('a', 300), Namespace = "default" }, Spec = ValidDeployment().Spec is var s ? new ReplicaSetSpec { Selector = s.Selector, Template = s.Template } : null! });
        var error = Assert.Single(errors, e => e.Field == "metadata.name");
        Assert.Contains("must be no more than 253 characters", error.Body);
    }

    [Fact]
    public void ServiceNamesFollowDns1035()
    {
        var svc = new Service { Metadata = new ObjectMeta { Name = "1web", Namespace = "default" }, Spec = new ServiceSpec { Ports = [new ServicePort { Port = 80 }] } };
        Assert.Contains(Check(svc), e => e.Field == "metadata.name" && e.Body.Contains("DNS-1035", StringComparison.Ordinal));
    }

    [Fact]
    public void ChecksLabelsAndSelectors()
    {
        var pod = new Pod
        {
            Metadata = new ObjectMeta { Name = "p", Namespace = "default", Labels = new Dictionary<string, string> { ["bad key!"] = "v", ["ok"] = new string('x', 64) } },
            Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "i" }], NodeSelector = new Dictionary<string, string> { ["k"] = "bad value" } },
        };
        var errors = Check(pod).ToList();
        Assert.Contains(errors, e => e.Field == "metadata.labels" && e.Body.Contains("bad key!", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Field == "metadata.labels[ok]");
        Assert.Contains(errors, e => e.Field == "spec.nodeSelector[k]");
    }

    [Fact]
    public void ChecksTolerationsVolumesAndMounts()
    {
        var pod = new Pod
        {
            Metadata = new ObjectMeta { Name = "p", Namespace = "default" },
            Spec = new PodSpec
            {
                Containers = [new Container { Name = "c", Image = "i", VolumeMounts = [new VolumeMount { Name = "missing", MountPath = "relative" }] }],
                Volumes = [new Volume { Name = "v" }, new Volume { Name = "h", HostPath = new HostPathVolumeSource { Path = "/a/../etc" } }],
                Tolerations = [new Toleration { Key = "k", Operator = "Exists", Value = "v" }, new Toleration { Key = "k", Effect = "NoSchedule", TolerationSeconds = 5 }],
            },
        };
        var fields = Check(pod).Select(e => e.Field).ToList();
        Assert.Contains("spec.containers[0].volumeMounts[0].name", fields);
        Assert.Contains("spec.containers[0].volumeMounts[0].mountPath", fields);
        Assert.Contains("spec.volumes[0]", fields);
        Assert.Contains("spec.volumes[1].hostPath.path", fields);
        Assert.Contains("spec.tolerations[0].value", fields);
        Assert.Contains("spec.tolerations[1].effect", fields);
    }

    [Fact]
    public void ServicePortsAndTypes()
    {
        var svc = new Service
        {
            Metadata = new ObjectMeta { Name = "web", Namespace = "default" },
            Spec = new ServiceSpec
            {
                Type = "LoadBalancer",
                ClusterIP = "not-an-ip",
                Ports = [new ServicePort { Port = 0 }, new ServicePort { Port = 80, TargetPort = "Bad_Name" }],
            },
        };
        var fields = Check(svc).Select(e => e.Field).ToList();
        Assert.Contains("spec.type", fields);
        Assert.Contains("spec.clusterIP", fields);
        Assert.Contains("spec.ports[0].port", fields);
        Assert.Contains("spec.ports[0].name", fields);
        Assert.Contains("spec.ports[1].targetPort", fields);
    }

    [Fact]
    public void PodSpecIsImmutableExceptImages()
    {
        var pod = Pod.ApplyDefaults(new Pod { Metadata = new ObjectMeta { Name = "p", Namespace = "default" }, Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "i:1" }] } });
        var newImage = pod with { Spec = pod.Spec with { Containers = [pod.Spec.Containers[0] with { Image = "i:2" }] } };
        Assert.Empty(Validator.Validate(newImage, pod));
        var newCommand = pod with { Spec = pod.Spec with { Containers = [pod.Spec.Containers[0] with { Command = ["sh"] }] } };
        Assert.Contains(Validator.Validate(newCommand, pod), e => e.Field == "spec" && e.Reason == "FieldValueForbidden");
    }

    [Fact]
    public void DeploymentSelectorIsImmutable()
    {
        var d = Deployment.ApplyDefaults(ValidDeployment());
        var changed = d with
        {
            Spec = d.Spec with
            {
                Selector = new LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "web", ["tier"] = "x" } },
                Template = d.Spec.Template with { Metadata = new ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "web", ["tier"] = "x" } } },
            },
        };
        Assert.Contains(Validator.Validate(changed, d), e => e.Field == "spec.selector" && e.Body.Contains("immutable", StringComparison.Ordinal));
    }

    [Fact]
    public void RollingUpdateParameters()
    {
        var d = ValidDeployment() with
        {
            Spec = ValidDeployment().Spec with
            {
                Strategy = new DeploymentStrategy { RollingUpdate = new RollingUpdateDeployment { MaxSurge = 0, MaxUnavailable = "0%" } },
            },
        };
        Assert.Contains(Check(d), e => e.Field == "spec.strategy.rollingUpdate.maxUnavailable" && e.Body.Contains("may not be 0", StringComparison.Ordinal));
        var bad = ValidDeployment() with { Spec = ValidDeployment().Spec with { Strategy = new DeploymentStrategy { RollingUpdate = new RollingUpdateDeployment { MaxSurge = "x%" } } } };
        Assert.Contains(Check(bad), e => e.Field == "spec.strategy.rollingUpdate.maxSurge");
    }
}
