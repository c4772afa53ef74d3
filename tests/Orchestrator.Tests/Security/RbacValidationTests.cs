using Orchestrator.Model;
using Orchestrator.Validation;

namespace Orchestrator.Tests.Security;

/// <summary>Kubernetes' RBAC defaults and validation, by field path.</summary>
public sealed class RbacValidationTests
{
    private static string[] Check<T>(T obj, T? old = null) where T : class, IResource<T> =>
        [.. Validator.Validate(T.ApplyDefaults(obj), old is null ? null : T.ApplyDefaults(old)).Select(e => e.ToString())];

    private static readonly RoleRef ViewRef = new() { Kind = "ClusterRole", Name = "view" };

    [Fact]
    public void SubjectsAndRoleRefGetKubernetesApiGroups()
    {
        var b = Defaults.RoleBinding(new RoleBinding
        {
            Metadata = new ObjectMeta { Name = "b", Namespace = "dev" },
            RoleRef = ViewRef,
            Subjects = [new Subject { Kind = "User", Name = "u" }, new Subject { Kind = "Group", Name = "g" }, new Subject { Kind = "ServiceAccount", Name = "sa" }],
        });
        Assert.Equal(Rbac.GroupName, b.RoleRef.ApiGroup);
        Assert.Equal([Rbac.GroupName, Rbac.GroupName, null], b.Subjects!.Select(s => s.ApiGroup));
        Assert.Equal("rbac.authorization.k8s.io/v1", b.ApiVersion);
        Assert.Equal("RoleBinding", b.Kind);
    }

    [Fact]
    public void RbacNamesMayHoldColons() =>
        Assert.Empty(Check(new ClusterRole { Metadata = new ObjectMeta { Name = "system:discovery" }, Rules = [] }));

    [Fact]
    public void RbacNamesMayNotHoldSlashes() =>
        Assert.Equal(["metadata.name: Invalid value: \"a/b\": may not contain '/'"], Check(new ClusterRole { Metadata = new ObjectMeta { Name = "a/b" } }));

    [Fact]
    public void RuleProblemsNameTheirRule()
    {
        var errors = Check(new Role
        {
            Metadata = new ObjectMeta { Name = "r", Namespace = "dev" },
            Rules =
            [
                new PolicyRule { Verbs = ["get"], ApiGroups = [""], Resources = ["pods"] },
                new PolicyRule { ApiGroups = [""], Resources = ["pods"] },
                new PolicyRule { Verbs = ["get"], Resources = ["pods"] },
                new PolicyRule { Verbs = ["get"], ApiGroups = [""] },
                new PolicyRule { Verbs = ["get"], NonResourceUrls = ["/healthz"] },
            ],
        });
        Assert.Equal(
            [
                "rules[1].verbs: Required value: verbs must contain at least one value",
                "rules[2].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[3].resources: Required value: resource rules must supply at least one resource",
                "rules[4].nonResourceURLs: Invalid value: \"[/healthz]\": namespaced rules cannot apply to non-resource URLs",
            ],
            errors);
    }

    [Fact]
    public void AClusterRoleMayGrantUrlsButNotWithResourcesInOneRule()
    {
        Assert.Empty(Check(new ClusterRole { Metadata = new ObjectMeta { Name = "c" }, Rules = [new PolicyRule { Verbs = ["get"], NonResourceUrls = ["/healthz", "/apis/*"] }] }));
        Assert.Equal(
            ["rules[0].nonResourceURLs: Invalid value: \"[/healthz]\": rules cannot apply to both regular resources and non-resource URLs"],
            Check(new ClusterRole { Metadata = new ObjectMeta { Name = "c" }, Rules = [new PolicyRule { Verbs = ["get"], ApiGroups = [""], Resources = ["pods"], NonResourceUrls = ["/healthz"] }] }));
    }

    [Fact]
    public void RoleRefAndSubjectsOfARoleBinding()
    {
        Assert.Empty(Check(new RoleBinding
        {
            Metadata = new ObjectMeta { Name = "b", Namespace = "dev" },
            RoleRef = new RoleRef { Kind = "Role", Name = "r" },
            // A RoleBinding's ServiceAccount may leave out its namespace (the binding's).
            Subjects = [new Subject { Kind = "ServiceAccount", Name = "sa" }],
        }));
        Assert.Equal(
            [
                "roleRef.apiGroup: Unsupported value: \"apps\": supported values: \"rbac.authorization.k8s.io\"",
                "roleRef.kind: Unsupported value: \"Deployment\": supported values: \"Role\", \"ClusterRole\"",
                "roleRef.name: Required value",
                "subjects[0].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
                "subjects[1].name: Required value",
                "subjects[2].apiGroup: Unsupported value: \"rbac.authorization.k8s.io\": supported values: \"\"",
                "subjects[3].apiGroup: Unsupported value: \"apps\": supported values: \"rbac.authorization.k8s.io\"",
            ],
            Check(new RoleBinding
            {
                Metadata = new ObjectMeta { Name = "b", Namespace = "dev" },
                RoleRef = new RoleRef { ApiGroup = "apps", Kind = "Deployment" },
                Subjects =
                [
                    new Subject { Kind = "Robot", Name = "r2d2" },
                    new Subject { Kind = "User" },
                    new Subject { Kind = "ServiceAccount", ApiGroup = Rbac.GroupName, Name = "sa" },
                    new Subject { Kind = "Group", ApiGroup = "apps", Name = "g" },
                ],
            }));
    }

    [Fact]
    public void AClusterRoleBindingGrantsClusterRolesToNamespacedServiceAccounts() =>
        Assert.Equal(
            [
                "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
                "subjects[0].namespace: Required value",
            ],
            Check(new ClusterRoleBinding
            {
                Metadata = new ObjectMeta { Name = "b" },
                RoleRef = new RoleRef { Kind = "Role", Name = "r" },
                Subjects = [new Subject { Kind = "ServiceAccount", Name = "sa" }],
            }));

    [Fact]
    public void RoleRefCannotChange()
    {
        var old = new ClusterRoleBinding { Metadata = new ObjectMeta { Name = "b" }, RoleRef = ViewRef, Subjects = [] };
        Assert.Empty(Check(old with { Subjects = [new Subject { Kind = "User", Name = "u" }] }, old));
        Assert.Equal(
            ["roleRef: Invalid value: \"{rbac.authorization.k8s.io ClusterRole edit}\": cannot change roleRef"],
            Check(old with { RoleRef = ViewRef with { Name = "edit" } }, old));
    }
}
