using Orchestrator.Model;

namespace Orchestrator.Tests.Infrastructure;

/// <summary>Small object builders for tests.</summary>
public static class Manifests
{
    public static Deployment Deployment(string name, int replicas, string image = "busybox:1", Dictionary<string, string>? requests = null) =>
        Deployment(name, replicas, Template(name, image, requests).Spec);

    /// <summary>A deployment whose pods, labelled app=<paramref name="name"/>, run <paramref name="pod"/>.</summary>
    public static Deployment Deployment(string name, int replicas, PodSpec pod) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new DeploymentSpec
        {
            Replicas = replicas,
            Selector = new LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = name } },
            Template = new PodTemplateSpec { Metadata = new ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = name } }, Spec = pod },
        },
    };

    public static ReplicaSet ReplicaSet(string name, int replicas, string image = "busybox:1") => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new ReplicaSetSpec
        {
            Replicas = replicas,
            Selector = new LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = name } },
            Template = Template(name, image, null),
        },
    };

    public static PodTemplateSpec Template(string app, string image, Dictionary<string, string>? requests) => new()
    {
        Metadata = new ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = app } },
        Spec = new PodSpec
        {
            Containers =
            [
                new Container
                {
                    Name = "main",
                    Image = image,
                    Command = ["sleep", "3600"],
                    Resources = requests is null ? null : new ResourceRequirements { Requests = requests.ToDictionary(kv => kv.Key, kv => new Quantity(kv.Value)) },
                },
            ],
        },
    };

    public static Pod Pod(string name, Dictionary<string, string>? requests = null, Dictionary<string, string>? nodeSelector = null, Dictionary<string, string>? labels = null) => new()
    {
        Metadata = new ObjectMeta { Name = name, Labels = labels },
        Spec = Template(name, "busybox:1", requests).Spec with { NodeSelector = nodeSelector },
    };
}
