using System.Net;
using System.Text.Json.Nodes;
using Orchestrator.Grains.Security;
using Orchestrator.Model;
using Orchestrator.Silo.Security;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Security;

/// <summary>A started control plane has Kubernetes' default roles, serves them as RBAC objects,
/// and answers access reviews (what kubectl auth can-i posts).</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class AccessReviewApiTests(ControlPlaneFixture cp)
{
    private const string Authz = "/apis/authorization.k8s.io/v1";
    private const string RbacPath = "/apis/rbac.authorization.k8s.io/v1";

    private ApiClient Api => cp.Api;

    [Fact]
    public async Task DefaultRolesAndBindingsExistAfterStart()
    {
        foreach (var name in new[] { "cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user", "system:public-info-viewer" })
        {
            var role = await Eventually.Until(() => Api.TryGetAsync<ClusterRole>($"{RbacPath}/clusterroles/{name}"), $"the ClusterRole {name}");
            Assert.Equal("rbac-defaults", role.Metadata.Labels![Rbac.BootstrappingLabel]);
            Assert.Equal("true", role.Metadata.Annotations![Rbac.AutoUpdateAnnotation]);
        }
        var admin = await Eventually.Until(() => Api.TryGetAsync<ClusterRoleBinding>($"{RbacPath}/clusterrolebindings/cluster-admin"), "the cluster-admin binding");
        Assert.Equal("ClusterRole", admin.RoleRef.Kind);
        Assert.Equal(SystemGroups.Masters, Assert.Single(admin.Subjects!).Name);
    }

    [Fact]
    public async Task RoleBindingsAreServedAndTheirRoleRefIsImmutable()
    {
        var ns = await cp.NewNamespaceAsync();
        var created = await Api.CreateAsync($"{RbacPath}/namespaces/{ns}/rolebindings", new RoleBinding
        {
            Metadata = new ObjectMeta { Name = "alice-view" },
            RoleRef = new RoleRef { Kind = "ClusterRole", Name = "view" },
            Subjects = [new Subject { Kind = "User", Name = "alice" }],
        });
        Assert.Equal(Rbac.GroupName, created.RoleRef.ApiGroup);
        Assert.Equal(Rbac.GroupName, created.Subjects![0].ApiGroup);
        var changed = created with { RoleRef = created.RoleRef with { Name = "edit" } };
        var status = await ApiClient.StatusAsync(await Api.SendAsync(HttpMethod.Put, $"{RbacPath}/namespaces/{ns}/rolebindings/alice-view", Serialization.ResourceJson.SerializeToString(changed)), 422);
        Assert.Contains("cannot change roleRef", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DiscoveryListsTheAuthorizationAndRbacGroups()
    {
        var groups = await Api.GetAsync<JsonObject>("/apis");
        var names = groups["groups"]!.AsArray().Select(g => g!["name"]!.GetValue<string>()).ToList();
        Assert.Contains("authorization.k8s.io", names);
        Assert.Contains(Rbac.GroupName, names);
        var resources = (await Api.GetAsync<JsonObject>($"{Authz}"))["resources"]!.AsArray();
        var ssar = resources.Single(r => r!["name"]!.GetValue<string>() == "selfsubjectaccessreviews")!;
        Assert.Equal(["create"], ssar["verbs"]!.AsArray().Select(v => v!.GetValue<string>()));
    }

    [Fact]
    public async Task SubjectAccessReviewAnswersForTheNamedUser()
    {
        var review = await ReviewAsync($"{Authz}/subjectaccessreviews", """
            {"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview",
             "spec":{"user":"root","groups":["system:masters"],"resourceAttributes":{"namespace":"default","verb":"create","group":"apps","resource":"deployments"}}}
            """);
        Assert.True(review.Status!.Allowed);
        var nobody = await ReviewAsync($"{Authz}/subjectaccessreviews", """
            {"spec":{"user":"nobody","resourceAttributes":{"namespace":"default","verb":"create","group":"apps","resource":"deployments"}}}
            """);
        Assert.False(nobody.Status!.Allowed);
    }

    [Fact]
    public async Task SelfSubjectAccessReviewAnswersForTheCaller()
    {
        // kubectl auth can-i create deployments: the body as kubectl sends it, empty status included.
        var review = await ReviewAsync($"{Authz}/selfsubjectaccessreviews", """
            {"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},
             "spec":{"resourceAttributes":{"namespace":"default","verb":"create","group":"apps","resource":"deployments"}},"status":{"allowed":false}}
            """);
        Assert.Equal("SelfSubjectAccessReview", review.Kind);
        // The harness's client is the cluster's admin once authentication is on; until then it is
        // anonymous, which the default roles allow no writes.
        Assert.Equal(await CallerIsAdminAsync(), review.Status!.Allowed);

        var health = await ReviewAsync($"{Authz}/selfsubjectaccessreviews", """{"spec":{"nonResourceAttributes":{"path":"/healthz","verb":"get"}}}""");
        Assert.True(health.Status!.Allowed);
    }

    [Fact]
    public async Task ReviewsWithoutAQuestionAre422()
    {
        var status = await ApiClient.StatusAsync(await Api.PostJsonAsync($"{Authz}/selfsubjectaccessreviews", """{"spec":{}}"""), 422);
        Assert.Contains("spec.resourceAttributes: Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified", status.Message, StringComparison.Ordinal);
        var local = await ApiClient.StatusAsync(await Api.PostJsonAsync($"{Authz}/namespaces/default/localsubjectaccessreviews",
            """{"spec":{"user":"u","resourceAttributes":{"namespace":"other","verb":"get","resource":"pods"}}}"""), 400);
        Assert.Equal("spec.resourceAttributes.namespace must match namespace: default", local.Message);
    }

    /// <summary>Whether the caller is bound to everything: the rules review of an admin holds
    /// cluster-admin's wildcard rule.</summary>
    private async Task<bool> CallerIsAdminAsync()
    {
        var response = await Api.PostJsonAsync($"{Authz}/selfsubjectrulesreviews", """{"spec":{"namespace":"default"}}""");
        var review = await ApiClient.ReadAsync<JsonObject>(response, HttpStatusCode.Created);
        Assert.NotEmpty(review["status"]!["nonResourceRules"]!.AsArray());
        return review["status"]!["resourceRules"]!.AsArray().Any(r => r!["resources"]?.AsArray().Any(x => x!.GetValue<string>() == "*") == true);
    }

    private async Task<SubjectAccessReview> ReviewAsync(string path, string json) =>
        await ApiClient.ReadAsync<SubjectAccessReview>(await Api.PostJsonAsync(path, json), HttpStatusCode.Created);
}
