using System.Reflection;
using Orchestrator.Client;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.Tests.Client;

/// <summary>
/// What the Orchestrator.Client package ships (its own assembly, Orchestrator.GrainInterfaces and
/// Orchestrator.Model): only the grain interfaces callers may use, every one with a stable alias,
/// and no reference to the control plane's or the node agents' protocols, so a client that calls
/// an internal grain method does not compile.
/// </summary>
public sealed class ClientContractTests
{
    private static readonly Assembly[] Package =
    [
        typeof(IOrchestratorClient).Assembly,
        typeof(IResourceGrain<>).Assembly,
        typeof(Deployment).Assembly,
    ];

    [Fact]
    public void ThePackageReferencesNeitherTheControlPlaneNorTheNodeProtocol()
    {
        var references = Package.SelectMany(a => a.GetReferencedAssemblies()).Select(r => r.Name).ToHashSet();

        Assert.DoesNotContain("Orchestrator.Grains", references);
        Assert.DoesNotContain("Orchestrator.NodeProtocol", references);
        Assert.DoesNotContain("Orchestrator.Storage", references);
        Assert.Equal(["Orchestrator.Client", "Orchestrator.GrainInterfaces", "Orchestrator.Model"], Package.Select(a => a.GetName().Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ThePackageHoldsOnlyTheGrainInterfacesCallersUse()
    {
        var grainInterfaces = Package.SelectMany(a => a.GetExportedTypes())
            .Where(t => t.IsInterface && typeof(IAddressable).IsAssignableFrom(t))
            .Select(t => t.Name)
            .Order(StringComparer.Ordinal);

        Assert.Equal(
            [
                "IClusterRoleBindingGrain", "IClusterRoleGrain", "IDeploymentGrain", "IEndpointsGrain", "IEventGrain", "INamespaceGrain", "INodeGrain", "IPodGrain",
                "IReplicaSetGrain", "IResourceGrain`1", "IResourceIndexGrain`1", "IRoleBindingGrain", "IRoleGrain", "IServiceAccountGrain", "IServiceGrain",
            ],
            grainInterfaces);
        // The verbs of one object: get, create, update, patch, status, delete (and, per kind,
        // rollback and event recording); nothing of the control plane's. A write may also come
        // as an overload that takes WriteOptions (dryRun): the same verb.
        Assert.Equal(
            ["CreateAsync", "DeleteAsync", "GetAsync", "PatchAsync", "UpdateAsync", "UpdateStatusAsync"],
            typeof(IResourceGrain<>).GetMethods().Select(m => m.Name).Distinct().Order(StringComparer.Ordinal));
        Assert.All(typeof(IResourceGrain<>).GetMethods().GroupBy(m => m.Name).Where(g => g.Count() > 1),
            g => Assert.Contains(g, m => m.GetParameters().Any(p => p.ParameterType == typeof(WriteOptions))));
        Assert.Equal(["RollbackToAsync"], typeof(IDeploymentGrain).GetMethods().Select(m => m.Name));
        Assert.Empty(typeof(IPodGrain).GetMethods());
        Assert.Empty(typeof(INodeGrain).GetMethods());
    }

    [Fact]
    public void EveryGrainInterfaceAndSerializedTypeOfThePackageHasAStableAlias()
    {
        var unaliased = Package.SelectMany(a => a.GetTypes())
            .Where(t => t.GetCustomAttribute<GenerateSerializerAttribute>() is not null
                || t.IsInterface && t.IsPublic && typeof(IAddressable).IsAssignableFrom(t))
            .Where(t => t.GetCustomAttribute<AliasAttribute>() is null)
            .Select(t => t.FullName)
            .ToList();

        Assert.Empty(unaliased);
    }
}
