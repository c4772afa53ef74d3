using Orchestrator.Model;

namespace PreviewEnvironments;

/// <summary>The objects of one preview environment: a deployment and a service that selects its pods.</summary>
public sealed record Preview(Deployment Deployment, Service Service)
{
    public static string NameOf(string name) => $"preview-{name}";

    /// <summary>Builds the objects; the control plane validates them, so a bad name or image comes
    /// back as its 422 naming the field.</summary>
    public static Preview For(string name, PreviewRequest request)
    {
        var objectName = NameOf(name);
        var labels = new Dictionary<string, string> { ["app"] = objectName, ["preview"] = name };
        var deployment = new Deployment
        {
            Metadata = new ObjectMeta { Name = objectName, Labels = labels },
            Spec = new DeploymentSpec
            {
                Replicas = request.Replicas,
                Selector = new LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = objectName } },
                Template = new PodTemplateSpec
                {
                    Metadata = new ObjectMeta { Labels = labels },
                    Spec = new PodSpec
                    {
                        Containers = [new Container { Name = "app", Image = request.Image, Ports = [new ContainerPort { Port = request.Port }] }],
                    },
                },
            },
        };
        var service = new Service
        {
            Metadata = new ObjectMeta { Name = objectName, Labels = labels },
            Spec = new ServiceSpec
            {
                Selector = new Dictionary<string, string> { ["app"] = objectName },
                Ports = [new ServicePort { Port = 80, TargetPort = IntOrString.FromInt(request.Port) }],
            },
        };
        return new Preview(deployment, service);
    }
}
