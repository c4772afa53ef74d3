using System.Text.Json.Serialization;
using Orchestrator.Serialization;
using Orchestrator.Validation;

namespace Orchestrator.Model;

/// <summary>
/// An identity for the processes of a pod (Kubernetes' core/v1 ServiceAccount). Every namespace
/// has one named "default", which pods use unless they name another; the token a pod gets
/// authenticates as "system:serviceaccount:&lt;namespace&gt;:&lt;name&gt;".
/// </summary>
[GenerateSerializer, Immutable, Alias("orch.ServiceAccount")]
public sealed record ServiceAccount : IResource<ServiceAccount>
{
    /// <summary>The name of the ServiceAccount every namespace has.</summary>
    public const string DefaultName = "default";

    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();

    /// <summary>Secrets pods of this account may use (kept for clients; tokens are no longer
    /// stored as secrets since Kubernetes 1.24, and this control plane never creates them).</summary>
    [Id(3), MergeByKey("name")] public IReadOnlyList<ObjectReference>? Secrets { get; init; }

    [Id(4)] public IReadOnlyList<LocalObjectReference>? ImagePullSecrets { get; init; }

    /// <summary>False keeps the token out of pods of this account that do not ask for it
    /// themselves (the pod's own field wins).</summary>
    [Id(5)] public bool? AutomountServiceAccountToken { get; init; }

    public static ResourceType Type => ResourceTypes.ServiceAccount;

    public static ServiceAccount ApplyDefaults(ServiceAccount obj) => Defaults.ServiceAccount(obj);

    public static void Validate(ServiceAccount obj, ServiceAccount? old, FieldErrors errors) => Validator.ServiceAccount(obj, old, errors);

    public ServiceAccount WithMetadata(ObjectMeta metadata) => this with { Metadata = metadata };

    /// <summary>None: as in Kubernetes, a ServiceAccount has no spec and its generation does not move.</summary>
    [JsonIgnore] public object? DesiredState => null;

    public ServiceAccount WithStatusOf(ServiceAccount other) => this;
}

/// <summary>A reference to an object in the same namespace by name (core/v1 LocalObjectReference).</summary>
[GenerateSerializer, Immutable, Alias("orch.LocalObjectReference")]
public sealed record LocalObjectReference
{
    [Id(0)] public string? Name { get; init; }
}
