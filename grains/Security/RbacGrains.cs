using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Resources;
using Orchestrator.Model;

namespace Orchestrator.Grains.Security;

// RBAC objects are data for the authorizer, which reads them from this silo's caches; they have
// no controller. A RoleBinding to a Role that does not exist yet is valid (as in Kubernetes): it
// grants nothing until the Role appears.

[GrainType("role")]
public sealed class RoleGrain(GrainServices services) : ResourceGrain<Role>(services), IRoleGrain;

[GrainType("clusterrole")]
public sealed class ClusterRoleGrain(GrainServices services) : ResourceGrain<ClusterRole>(services), IClusterRoleGrain;

[GrainType("rolebinding")]
public sealed class RoleBindingGrain(GrainServices services) : ResourceGrain<RoleBinding>(services), IRoleBindingGrain;

[GrainType("clusterrolebinding")]
public sealed class ClusterRoleBindingGrain(GrainServices services) : ResourceGrain<ClusterRoleBinding>(services), IClusterRoleBindingGrain;
