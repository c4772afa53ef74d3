namespace Orchestrator.Model;

/// <summary>
/// Kubernetes' server-side defaults (SetDefaults_* in pkg/apis/*/v1/defaults.go), so that what a
/// client reads back is complete.
/// </summary>
public static class Defaults
{
    public const long TerminationGracePeriodSeconds = 30;
    public const int DeploymentRevisionHistoryLimit = 10;
    public const int DeploymentProgressDeadlineSeconds = 600;
    public static readonly IntOrString DefaultMaxSurge = "25%";
    public static readonly IntOrString DefaultMaxUnavailable = "25%";

    public static Pod Pod(Pod pod)
    {
        var spec = PodSpec(pod.Spec);
        return pod with
        {
            ApiVersion = ResourceTypes.Pod.ApiVersion,
            Kind = ResourceTypes.Pod.Kind,
            Spec = spec,
            Status = (pod.Status ?? new PodStatus()) with
            {
                Phase = pod.Status?.Phase ?? PodPhase.Pending,
                QosClass = QosClass(spec),
            },
        };
    }

    public static PodSpec PodSpec(PodSpec spec) => spec with
    {
        RestartPolicy = string.IsNullOrEmpty(spec.RestartPolicy) ? RestartPolicy.Always : spec.RestartPolicy,
        TerminationGracePeriodSeconds = spec.TerminationGracePeriodSeconds ?? TerminationGracePeriodSeconds,
        Containers = spec.Containers.Select(Container).ToList(),
    };

    public static Container Container(Container c) => c with
    {
        ImagePullPolicy = string.IsNullOrEmpty(c.ImagePullPolicy) ? DefaultPullPolicy(c.Image) : c.ImagePullPolicy,
        Ports = c.Ports?.Select(p => p with { Protocol = string.IsNullOrEmpty(p.Protocol) ? "TCP" : p.Protocol }).ToList(),
        Resources = Resources(c.Resources),
        LivenessProbe = Probe(c.LivenessProbe),
        ReadinessProbe = Probe(c.ReadinessProbe),
        StartupProbe = Probe(c.StartupProbe),
    };

    /// <summary>Always for ":latest" or an untagged image, IfNotPresent otherwise.</summary>
    public static string DefaultPullPolicy(string? image)
    {
        if (string.IsNullOrEmpty(image) || image.Contains('@'))
        {
            return "IfNotPresent";
        }
        var lastSlash = image.LastIndexOf('/');
        var colon = image.IndexOf(':', lastSlash + 1);
        return colon < 0 || image[(colon + 1)..] == "latest" ? "Always" : "IfNotPresent";
    }

    /// <summary>A limit without a request requests the limit, as Kubernetes defaults it.</summary>
    private static ResourceRequirements? Resources(ResourceRequirements? r)
    {
        if (r?.Limits is not { Count: > 0 } limits)
        {
            return r;
        }
        var requests = new Dictionary<string, Quantity>(r.Requests ?? new Dictionary<string, Quantity>());
        foreach (var (name, q) in limits)
        {
            requests.TryAdd(name, q);
        }
        return r with { Requests = requests };
    }

    private static Probe? Probe(Probe? p) => p is null ? null : p with
    {
        TimeoutSeconds = p.TimeoutSeconds ?? 1,
        PeriodSeconds = p.PeriodSeconds ?? 10,
        SuccessThreshold = p.SuccessThreshold ?? 1,
        FailureThreshold = p.FailureThreshold ?? 3,
        InitialDelaySeconds = p.InitialDelaySeconds ?? 0,
        HttpGet = p.HttpGet is { } h ? h with { Path = string.IsNullOrEmpty(h.Path) ? "/" : h.Path, Scheme = h.Scheme ?? "HTTP" } : null,
    };

    /// <summary>Kubernetes' QoS class: Guaranteed when every container's requests equal its
    /// cpu and memory limits, BestEffort when nothing is requested, Burstable otherwise.</summary>
    public static string QosClass(PodSpec spec)
    {
        var any = false;
        var guaranteed = true;
        foreach (var c in spec.Containers)
        {
            var req = c.Resources?.Requests;
            var lim = c.Resources?.Limits;
            if (req is { Count: > 0 } || lim is { Count: > 0 })
            {
                any = true;
            }
            foreach (var name in new[] { ResourceName.Cpu, ResourceName.Memory })
            {
                if (lim is null || !lim.TryGetValue(name, out var l) || req is null || !req.TryGetValue(name, out var q) || l.Value != q.Value)
                {
                    guaranteed = false;
                }
            }
        }
        return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
    }

    public static Node Node(Node node) => node with
    {
        ApiVersion = ResourceTypes.Node.ApiVersion,
        Kind = ResourceTypes.Node.Kind,
    };

    public static Namespace Namespace(Namespace ns) => ns with
    {
        ApiVersion = ResourceTypes.Namespace.ApiVersion,
        Kind = ResourceTypes.Namespace.Kind,
        Spec = ns.Spec ?? new NamespaceSpec { Finalizers = ["kubernetes"] },
        Status = new NamespaceStatus { Phase = ns.Status?.Phase ?? "Active" },
    };

    public static Service Service(Service svc) => svc with
    {
        ApiVersion = ResourceTypes.Service.ApiVersion,
        Kind = ResourceTypes.Service.Kind,
        Spec = svc.Spec with
        {
            Type = string.IsNullOrEmpty(svc.Spec.Type) ? ServiceType.ClusterIP : svc.Spec.Type,
            SessionAffinity = string.IsNullOrEmpty(svc.Spec.SessionAffinity) ? "None" : svc.Spec.SessionAffinity,
            SessionAffinityConfig = svc.Spec.SessionAffinity == "ClientIP"
                ? new SessionAffinityConfig { ClientIP = new ClientIPConfig { TimeoutSeconds = svc.Spec.SessionAffinityConfig?.ClientIP?.TimeoutSeconds ?? 10800 } }
                : svc.Spec.SessionAffinityConfig,
            Ports = svc.Spec.Ports?.Select(p => p with
            {
                Protocol = string.IsNullOrEmpty(p.Protocol) ? "TCP" : p.Protocol,
                TargetPort = p.TargetPort ?? IntOrString.FromInt(p.Port),
            }).ToList(),
        },
        Status = svc.Status ?? new ServiceStatus { LoadBalancer = new LoadBalancerStatus() },
    };

    public static Endpoints Endpoints(Endpoints ep) => ep with
    {
        ApiVersion = ResourceTypes.Endpoints.ApiVersion,
        Kind = ResourceTypes.Endpoints.Kind,
        Subsets = ep.Subsets?.Select(s => s with
        {
            Ports = s.Ports?.Select(p => p with { Protocol = string.IsNullOrEmpty(p.Protocol) ? "TCP" : p.Protocol }).ToList(),
        }).ToList(),
    };

    public static Event Event(Event ev) => ev with
    {
        ApiVersion = ResourceTypes.Event.ApiVersion,
        Kind = ResourceTypes.Event.Kind,
        EventType = string.IsNullOrEmpty(ev.EventType) ? EventTypes.Normal : ev.EventType,
        Count = ev.Count ?? 1,
    };

    public static PodTemplateSpec Template(PodTemplateSpec t) => t with { Spec = PodSpec(t.Spec) };

    /// <summary>apps/v1 defaults a missing selector to nothing (it is required), so only the
    /// counts and the template are defaulted here.</summary>
    public static ReplicaSet ReplicaSet(ReplicaSet rs) => rs with
    {
        ApiVersion = ResourceTypes.ReplicaSet.ApiVersion,
        Kind = ResourceTypes.ReplicaSet.Kind,
        Spec = rs.Spec with
        {
            Replicas = rs.Spec.Replicas ?? 1,
            MinReadySeconds = rs.Spec.MinReadySeconds ?? 0,
            Template = Template(rs.Spec.Template),
        },
        Status = rs.Status ?? new ReplicaSetStatus(),
    };

    public static Deployment Deployment(Deployment d)
    {
        var strategy = d.Spec.Strategy ?? new DeploymentStrategy();
        var type = string.IsNullOrEmpty(strategy.Type) ? DeploymentStrategyType.RollingUpdate : strategy.Type;
        strategy = type == DeploymentStrategyType.RollingUpdate
            ? strategy with
            {
                Type = type,
                RollingUpdate = new RollingUpdateDeployment
                {
                    MaxSurge = strategy.RollingUpdate?.MaxSurge ?? DefaultMaxSurge,
                    MaxUnavailable = strategy.RollingUpdate?.MaxUnavailable ?? DefaultMaxUnavailable,
                },
            }
            : strategy with { Type = type };
        return d with
        {
            ApiVersion = ResourceTypes.Deployment.ApiVersion,
            Kind = ResourceTypes.Deployment.Kind,
            Spec = d.Spec with
            {
                Replicas = d.Spec.Replicas ?? 1,
                Strategy = strategy,
                MinReadySeconds = d.Spec.MinReadySeconds ?? 0,
                RevisionHistoryLimit = d.Spec.RevisionHistoryLimit ?? DeploymentRevisionHistoryLimit,
                ProgressDeadlineSeconds = d.Spec.ProgressDeadlineSeconds ?? DeploymentProgressDeadlineSeconds,
                Template = Template(d.Spec.Template),
            },
            Status = d.Status ?? new DeploymentStatus(),
        };
    }

    public static Role Role(Role r) => r with { ApiVersion = ResourceTypes.Role.ApiVersion, Kind = ResourceTypes.Role.Kind };

    public static ClusterRole ClusterRole(ClusterRole r) => r with { ApiVersion = ResourceTypes.ClusterRole.ApiVersion, Kind = ResourceTypes.ClusterRole.Kind };

    public static RoleBinding RoleBinding(RoleBinding b) => b with
    {
        ApiVersion = ResourceTypes.RoleBinding.ApiVersion,
        Kind = ResourceTypes.RoleBinding.Kind,
        RoleRef = RoleRef(b.RoleRef),
        Subjects = b.Subjects?.Select(Subject).ToList(),
    };

    public static ClusterRoleBinding ClusterRoleBinding(ClusterRoleBinding b) => b with
    {
        ApiVersion = ResourceTypes.ClusterRoleBinding.ApiVersion,
        Kind = ResourceTypes.ClusterRoleBinding.Kind,
        RoleRef = RoleRef(b.RoleRef),
        Subjects = b.Subjects?.Select(Subject).ToList(),
    };

    /// <summary>SetDefaults_RoleBinding: a roleRef without apiGroup means RBAC's.</summary>
    private static RoleRef RoleRef(RoleRef r) => r.ApiGroup.Length == 0 ? r with { ApiGroup = Rbac.GroupName } : r;

    /// <summary>SetDefaults_Subject: Users and Groups are RBAC's, ServiceAccounts the core group's.</summary>
    private static Subject Subject(Subject s) => string.IsNullOrEmpty(s.ApiGroup) && s.Kind is Rbac.UserKind or Rbac.GroupKind
        ? s with { ApiGroup = Rbac.GroupName }
        : s;
}
