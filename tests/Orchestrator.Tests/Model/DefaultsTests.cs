using Orchestrator.Model;

namespace Orchestrator.Tests.Model;

public sealed class DefaultsTests
{
    [Fact]
    public void PodDefaultsAsKubernetes()
    {
        var pod = Pod.ApplyDefaults(new Pod
        {
            Spec = new PodSpec
            {
                Containers =
                [
                    new Container
                    {
                        Name = "c",
                        Image = "nginx",
                        Ports = [new ContainerPort { Port = 80 }],
                        ReadinessProbe = new Probe { HttpGet = new HttpGetAction { Port = 80 } },
                        Resources = new ResourceRequirements { Limits = new Dictionary<string, Quantity> { ["cpu"] = "500m", ["memory"] = "64Mi" } },
                    },
                    new Container { Name = "d", Image = "busybox:1.36" },
                ],
            },
        });
        Assert.Equal("Always", pod.Spec.RestartPolicy);
        Assert.Equal(30, pod.Spec.TerminationGracePeriodSeconds);
        Assert.Equal("Always", pod.Spec.Containers[0].ImagePullPolicy);
        Assert.Equal("IfNotPresent", pod.Spec.Containers[1].ImagePullPolicy);
        Assert.Equal("TCP", pod.Spec.Containers[0].Ports![0].Protocol);
        var probe = pod.Spec.Containers[0].ReadinessProbe!;
        Assert.Equal((1, 10, 1, 3, "/", "HTTP"), (probe.TimeoutSeconds, probe.PeriodSeconds, probe.SuccessThreshold, probe.FailureThreshold, probe.HttpGet!.Path, probe.HttpGet.Scheme));
        Assert.Equal("500m", pod.Spec.Containers[0].Resources!.Requests!["cpu"].Text);
        Assert.Equal(PodPhase.Pending, pod.Status!.Phase);
        Assert.Equal("Burstable", pod.Status.QosClass);
    }

    [Fact]
    public void DeploymentDefaultsAsKubernetes()
    {
        var d = Deployment.ApplyDefaults(new Deployment { Spec = new DeploymentSpec { Template = new PodTemplateSpec { Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "i" }] } } } });
        Assert.Equal(1, d.Spec.Replicas);
        Assert.Equal("RollingUpdate", d.Spec.Strategy!.Type);
        Assert.Equal("25%", d.Spec.Strategy.RollingUpdate!.MaxSurge!.Value.StringValue);
        Assert.Equal(10, d.Spec.RevisionHistoryLimit);
        Assert.Equal(600, d.Spec.ProgressDeadlineSeconds);
        Assert.Equal("apps/v1", d.ApiVersion);
    }

    [Fact]
    public void ServiceDefaults()
    {
        var s = Service.ApplyDefaults(new Service { Spec = new ServiceSpec { Ports = [new ServicePort { Port = 80 }], SessionAffinity = "ClientIP" } });
        Assert.Equal("ClusterIP", s.Spec.Type);
        Assert.Equal(80, s.Spec.Ports![0].TargetPort!.Value.IntValue);
        Assert.Equal("TCP", s.Spec.Ports[0].Protocol);
        Assert.Equal(10800, s.Spec.SessionAffinityConfig!.ClientIP!.TimeoutSeconds);
    }

    [Theory]
    [InlineData("100m", 0.1)]
    [InlineData("2", 2)]
    [InlineData("1.5", 1.5)]
    [InlineData("128Mi", 134217728)]
    [InlineData("1Gi", 1073741824)]
    [InlineData("1k", 1000)]
    [InlineData("2e3", 2000)]
    [InlineData("500u", 0.0005)]
    public void QuantitiesParse(string text, double value)
    {
        Assert.True(Quantity.TryParse(text, out var v));
        Assert.Equal((decimal)value, v);
    }

    [Theory]
    [InlineData("")]
    [InlineData("lots")]
    [InlineData("1Zi")]
    [InlineData("1.2.3")]
    [InlineData("Mi")]
    public void BadQuantitiesDoNotParse(string text) => Assert.False(Quantity.TryParse(text, out _));
}
