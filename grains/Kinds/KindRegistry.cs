using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Kinds.Printing;
using Orchestrator.Model;

namespace Orchestrator.Grains.Kinds;

/// <summary>The kinds this control plane serves: one entry per kind, and nothing else lists them.
/// A kind comes after the kinds it owns (a namespace being deleted deletes them in reverse order).</summary>
public static class KindRegistry
{
    public static IReadOnlyList<IKind> All { get; } =
    [
        new Kind<Namespace> { Reconciler = (g, key) => g.GetGrain<INamespaceGrain>(key).AsReference<IReconciler>(), Columns = ClusterColumns.Namespace },
        new Kind<Node> { Reconciler = (g, key) => g.GetGrain<INodeGrain>(key).AsReference<IReconciler>(), Columns = ClusterColumns.Node },
        new Kind<Pod>
        {
            // Node agents list and watch the pods of their node: file pods by node name.
            Index = new(
                pod => pod.Spec.NodeName is { Length: > 0 } node ? ["node:" + node] : [],
                (field, value) => field == "spec.nodeName" && value.Length > 0 ? "node:" + value : null),
            Columns = PodColumns.All,
        },
        new Kind<Service> { Reconciler = (g, key) => g.GetGrain<IServiceGrain>(key).AsReference<IReconciler>(), Columns = ServiceColumns.Service },
        new Kind<Endpoints> { Columns = ServiceColumns.Endpoints },
        new Kind<Event> { Columns = ClusterColumns.Event },
        new Kind<ServiceAccount> { Columns = ClusterColumns.ServiceAccount },
        new Kind<ReplicaSet>
        {
            Reconciler = (g, key) => g.GetGrain<IReplicaSetGrain>(key).AsReference<IReconciler>(),
            Scale = new(rs => rs.Spec.Replicas ?? 1, rs => rs.Status?.Replicas ?? 0, rs => rs.Spec.Selector),
            Columns = AppsColumns.ReplicaSet,
        },
        new Kind<Deployment>
        {
            Reconciler = (g, key) => g.GetGrain<IDeploymentGrain>(key).AsReference<IReconciler>(),
            Scale = new(d => d.Spec.Replicas ?? 1, d => d.Status?.Replicas ?? 0, d => d.Spec.Selector),
            Columns = AppsColumns.Deployment,
        },
        new Kind<Role> { Columns = RbacColumns.Role },
        new Kind<ClusterRole> { Columns = RbacColumns.ClusterRole },
        new Kind<RoleBinding> { Columns = RbacColumns.RoleBinding },
        new Kind<ClusterRoleBinding> { Columns = RbacColumns.ClusterRoleBinding },
    ];

    private static readonly Dictionary<string, IKind> ByKind = All.ToDictionary(k => k.Type.Kind, StringComparer.Ordinal);

    private static readonly Dictionary<Type, IKind> ByClrType = All.ToDictionary(k => k.Accept(ClrTypeOf.Instance));

    /// <summary>The entry of a kind named in an ownerReference or involvedObject ("Deployment").</summary>
    public static IKind? Find(string kind) => ByKind.GetValueOrDefault(kind);

    /// <summary>The entry of the kind whose model type is <paramref name="clrType"/> (Pod for
    /// IResourceGrain&lt;Pod&gt;), or null.</summary>
    public static IKind? Find(Type clrType) => ByClrType.GetValueOrDefault(clrType);

    public static Kind<T> Of<T>() where T : class, IResource<T> => (Kind<T>)ByClrType[typeof(T)];

    private sealed class ClrTypeOf : IKindVisitor<Type>
    {
        public static readonly ClrTypeOf Instance = new();

        public Type Visit<T>(Kind<T> kind) where T : class, IResource<T> => typeof(T);
    }
}
