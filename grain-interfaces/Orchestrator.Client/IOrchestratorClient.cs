using Orchestrator.Client.Resources;
using Orchestrator.Model;

namespace Orchestrator.Client;

/// <summary>
/// Typed calls to the control plane's grains, one client per kind, as client-go's clientset:
/// <c>client.Deployments("default").CreateAsync(deployment)</c>. A namespace of null on a
/// namespaced kind lists and watches every namespace; calls on one object then take the
/// object's own <c>metadata.namespace</c>. Failures the API would answer with a Kubernetes Status
/// throw <see cref="ApiException"/> carrying that same Status (code, reason, causes per field).
/// </summary>
public interface IOrchestratorClient
{
    /// <summary>The Orleans grain factory underneath, for calls this client does not wrap.</summary>
    IGrainFactory Grains { get; }

    DeploymentClient Deployments(string? ns);

    ReplicaSetClient ReplicaSets(string? ns);

    PodClient Pods(string? ns);

    ResourceClient<Service> Services(string? ns);

    ResourceClient<Endpoints> Endpoints(string? ns);

    ResourceClient<Event> Events(string? ns);

    ResourceClient<ServiceAccount> ServiceAccounts(string? ns);

    ResourceClient<Namespace> Namespaces();

    ResourceClient<Node> Nodes();

    /// <summary>The client of any kind by its model type.</summary>
    ResourceClient<T> Resources<T>(string? ns = null) where T : class, IResource<T>;
}

/// <summary>The default <see cref="IOrchestratorClient"/>, on the host's Orleans client.</summary>
public sealed class OrchestratorClient(IGrainFactory grains, TimeProvider time) : IOrchestratorClient
{
    public IGrainFactory Grains => grains;

    public DeploymentClient Deployments(string? ns) => new(grains, ns, time);

    public ReplicaSetClient ReplicaSets(string? ns) => new(grains, ns, time);

    public PodClient Pods(string? ns) => new(grains, ns, time);

    public ResourceClient<Service> Services(string? ns) => Resources<Service>(ns);

    public ResourceClient<Endpoints> Endpoints(string? ns) => Resources<Endpoints>(ns);

    public ResourceClient<Event> Events(string? ns) => Resources<Event>(ns);

    public ResourceClient<ServiceAccount> ServiceAccounts(string? ns) => Resources<ServiceAccount>(ns);

    public ResourceClient<Namespace> Namespaces() => Resources<Namespace>();

    public ResourceClient<Node> Nodes() => Resources<Node>();

    public ResourceClient<T> Resources<T>(string? ns = null) where T : class, IResource<T> => new(grains, ns, time);
}
