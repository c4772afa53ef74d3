using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Resources;
using Orchestrator.Model;
using Orchestrator.Selectors;
using Orchestrator.Serialization;
using Orchestrator.Validation;

namespace Orchestrator.Grains.Services;

/// <summary>
/// A Service: allocates its ClusterIP on create, and (Kubernetes' endpoints controller) keeps
/// an Endpoints object of the same name listing the pods its selector matches, ready ones under
/// addresses and the others under notReadyAddresses. Pods that change poke the services
/// selecting them (see PodGrain), and its reminder re-checks anyway.
/// </summary>
[GrainType("service")]
public sealed class ServiceGrain(
    GrainServices services)
    : ReconcilerGrain<Service>(services), IServiceGrain
{
    private IServiceIpAllocatorGrain IpAllocator => GrainFactory.GetGrain<IServiceIpAllocatorGrain>(SchedulerGrainKeys.Default);

    private INodePortAllocatorGrain NodePorts => GrainFactory.GetGrain<INodePortAllocatorGrain>(SchedulerGrainKeys.Default);

    private Index.ResourceCache<Pod> Pods => Services.Caches.Of<Pod>();

    protected override async Task<Service> OnCreatingAsync(Service obj, FieldErrors errors)
    {
        if (errors.Any)
        {
            return obj;
        }
        if (obj.Spec.ClusterIP == "None")
        {
            obj = obj with { Spec = obj.Spec with { ClusterIPs = ["None"] } };
        }
        else
        {
            var requested = string.IsNullOrEmpty(obj.Spec.ClusterIP) ? null : obj.Spec.ClusterIP;
            var result = await IpAllocator.AllocateAsync(Key, requested);
            if (result.Value is null)
            {
                errors.Invalid("spec.clusterIP", requested ?? "", result.Error!);
                return obj;
            }
            obj = obj with { Spec = obj.Spec with { ClusterIP = result.Value, ClusterIPs = [result.Value] } };
        }
        return await AllocateNodePortsAsync(obj, errors);
    }

    protected override async Task OnCreateRejectedAsync(Service obj)
    {
        await IpAllocator.ReleaseAsync(Key);
        await NodePorts.ReleaseAsync(Key);
    }

    protected override async Task<Service> OnUpdatingAsync(Service obj, Service old, FieldErrors errors)
    {
        // Allocated values carry over when an update leaves them out (Kubernetes does the same),
        // so a manifest without clusterIP or nodePorts can be applied again.
        if (string.IsNullOrEmpty(obj.Spec.ClusterIP))
        {
            obj = obj with { Spec = obj.Spec with { ClusterIP = old.Spec.ClusterIP, ClusterIPs = old.Spec.ClusterIPs } };
        }
        if (obj.Spec.Type == ServiceType.NodePort && obj.Spec.Ports is { } ports)
        {
            obj = obj with
            {
                Spec = obj.Spec with
                {
                    Ports = ports.Select(p => p.NodePort is null && old.Spec.Ports?.FirstOrDefault(o => o.Port == p.Port && o.Protocol == p.Protocol)?.NodePort is { } kept
                        ? p with { NodePort = kept }
                        : p).ToList(),
                },
            };
        }
        if (errors.Any)
        {
            return obj;
        }
        return await AllocateNodePortsAsync(obj, errors);
    }

    /// <summary>NodePort services get a node port per service port (requested or picked); other
    /// services hold none.</summary>
    private async Task<Service> AllocateNodePortsAsync(Service obj, FieldErrors errors)
    {
        if (obj.Spec.Type != ServiceType.NodePort)
        {
            await NodePorts.ReleaseAsync(Key);
            return obj;
        }
        var ports = obj.Spec.Ports ?? [];
        var result = await NodePorts.AllocateAsync(Key, ports.Select(p => p.NodePort).ToList());
        if (result.Ports is null)
        {
            var i = result.FailedIndex ?? 0;
            errors.Invalid($"spec.ports[{i}].nodePort", ports.ElementAtOrDefault(i)?.NodePort ?? 0, result.Error!);
            return obj;
        }
        return obj with { Spec = obj.Spec with { Ports = ports.Select((p, i) => p with { NodePort = result.Ports[i] }).ToList() } };
    }

    protected override async Task OnRemovedAsync(Service last)
    {
        await base.OnRemovedAsync(last);
        await IpAllocator.ReleaseAsync(Key);
        await NodePorts.ReleaseAsync(Key);
        var endpoints = GrainFactory.GetGrain<IEndpointsGrain>(Key);
        try
        {
            await endpoints.DeleteAsync(DeleteOptions.Default);
        }
        catch (ApiException ex) when (ex.Code == 404)
        {
        }
    }

    protected override async Task<ReconcileResult> ReconcileAsync(Service svc)
    {
        if (svc.Metadata.IsDeleting)
        {
            return ReconcileResult.Done;
        }
        if (svc.Spec.Selector is not { Count: > 0 } selectorLabels)
        {
            // Without a selector the endpoints are the user's to manage.
            return ReconcileResult.Done;
        }
        var query = new ResourceQuery { Namespace = svc.Metadata.Namespace, Labels = Selector.FromLabels(selectorLabels) };
        var pods = await Pods.ListAsync(query);
        var subsets = ComputeSubsets(svc, pods.Items);
        await WriteEndpointsAsync(svc, subsets);
        return ReconcileResult.Done;
    }

    private async Task WriteEndpointsAsync(Service svc, IReadOnlyList<EndpointSubset>? subsets)
    {
        var grain = GrainFactory.GetGrain<IEndpointsGrain>(Key);
        var existing = await grain.GetAsync();
        if (existing is null)
        {
            await grain.CreateAsync(new Endpoints
            {
                Metadata = new ObjectMeta { Name = svc.Metadata.Name, Namespace = svc.Metadata.Namespace, Labels = svc.Metadata.Labels },
                Subsets = subsets,
            });
            return;
        }
        var desired = existing with { Subsets = subsets, Metadata = existing.Metadata with { Labels = svc.Metadata.Labels } };
        if (!ResourceJson.DeepEquals(Endpoints.ApplyDefaults(desired), existing))
        {
            await grain.UpdateAsync(desired);
        }
    }

    /// <summary>
    /// Kubernetes' endpoints for a service: pods with an IP that are neither finished nor being
    /// deleted; each service port resolved against the pod (a named targetPort is looked up among
    /// the pod's container ports, and a pod without it is left out of that port); pods with the
    /// same resolved ports grouped into one subset; addresses ordered by IP.
    /// </summary>
    internal static IReadOnlyList<EndpointSubset>? ComputeSubsets(Service svc, IEnumerable<Pod> pods)
    {
        var groups = new Dictionary<string, (List<EndpointPort> Ports, List<EndpointAddress> Ready, List<EndpointAddress> NotReady)>(StringComparer.Ordinal);
        foreach (var pod in pods)
        {
            if (string.IsNullOrEmpty(pod.Status?.PodIP) || !pod.IsActive())
            {
                continue;
            }
            var ports = new List<EndpointPort>();
            foreach (var sp in svc.Spec.Ports ?? [])
            {
                if (ResolveTargetPort(sp, pod) is { } port)
                {
                    ports.Add(new EndpointPort { Name = sp.Name, Port = port, Protocol = sp.Protocol ?? "TCP" });
                }
            }
            if (ports.Count == 0 && (svc.Spec.Ports?.Count ?? 0) > 0)
            {
                continue;
            }
            var key = string.Join(";", ports.Select(p => $"{p.Name}/{p.Port}/{p.Protocol}"));
            if (!groups.TryGetValue(key, out var group))
            {
                groups[key] = group = (ports, [], []);
            }
            var address = new EndpointAddress
            {
                Ip = pod.Status!.PodIP!,
                NodeName = pod.Spec.NodeName,
                TargetRef = new ObjectReference { Kind = "Pod", Namespace = pod.Metadata.Namespace, Name = pod.Metadata.Name, Uid = pod.Metadata.Uid },
            };
            (pod.IsReady() ? group.Ready : group.NotReady).Add(address);
        }
        if (groups.Count == 0)
        {
            return null;
        }
        return groups.OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new EndpointSubset
        {
            Addresses = g.Value.Ready.Count > 0 ? g.Value.Ready.OrderBy(a => IpOrder(a.Ip)).ToList() : null,
            NotReadyAddresses = g.Value.NotReady.Count > 0 ? g.Value.NotReady.OrderBy(a => IpOrder(a.Ip)).ToList() : null,
            Ports = g.Value.Ports.Count > 0 ? g.Value.Ports : null,
        }).ToList();
    }

    private static uint IpOrder(string ip) => System.Net.IPAddress.TryParse(ip, out var a) ? Cidr.ToUInt(a) : 0;

    internal static int? ResolveTargetPort(ServicePort sp, Pod pod)
    {
        var target = sp.TargetPort ?? IntOrString.FromInt(sp.Port);
        if (target.IsInt)
        {
            return target.IntValue;
        }
        foreach (var c in pod.Spec.Containers)
        {
            foreach (var p in c.Ports ?? [])
            {
                if (p.Name == target.StringValue && (p.Protocol ?? "TCP") == (sp.Protocol ?? "TCP"))
                {
                    return p.Port;
                }
            }
        }
        return null;
    }
}
