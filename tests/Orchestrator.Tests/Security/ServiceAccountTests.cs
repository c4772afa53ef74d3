using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Security;

/// <summary>The ServiceAccount kind, every namespace's "default" one, and pod admission of the
/// account a pod names.</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class ServiceAccountTests(ControlPlaneFixture cp)
{
    private ApiClient Api => cp.Api;

    [Fact]
    public async Task EveryNamespaceHasADefaultServiceAccountThatComesBackWhenDeleted()
    {
        var ns = await cp.NewNamespaceAsync();
        var path = $"/api/v1/namespaces/{ns}/serviceaccounts/default";
        var first = await Eventually.Until(() => Api.TryGetAsync<ServiceAccount>(path), "the default ServiceAccount");
        Assert.Equal("ServiceAccount", first.Kind);

        var deleted = await Api.SendAsync(HttpMethod.Delete, path);
        Assert.True(deleted.IsSuccessStatusCode, await deleted.Content.ReadAsStringAsync());
        await Eventually.True(async () => await Api.TryGetAsync<ServiceAccount>(path) is { } again && again.Metadata.Uid != first.Metadata.Uid,
            "a new default ServiceAccount");

        await Eventually.Until(() => Api.TryGetAsync<ServiceAccount>("/api/v1/namespaces/kube-system/serviceaccounts/default"), "kube-system's default ServiceAccount");
    }

    [Fact]
    public async Task ServiceAccountsAreCreatedListedAndValidated()
    {
        var ns = await cp.NewNamespaceAsync();
        var created = await Api.CreateAsync($"/api/v1/namespaces/{ns}/serviceaccounts", new ServiceAccount
        {
            Metadata = new ObjectMeta { Name = "builder" },
            AutomountServiceAccountToken = false,
            ImagePullSecrets = [new LocalObjectReference { Name = "registry" }],
        });
        Assert.False(created.AutomountServiceAccountToken);
        var list = await Api.ListAsync<ServiceAccount>($"/api/v1/namespaces/{ns}/serviceaccounts");
        Assert.Contains(list, sa => sa.Metadata.Name == "builder");

        var bad = await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/serviceaccounts", """{"metadata":{"name":"Bad_Name"}}""");
        await ApiClient.StatusAsync(bad, 422);
    }

    [Fact]
    public async Task APodRunsAsDefaultUnlessItNamesAnAccountThatMustExist()
    {
        // Right after the namespace: admission must not race the namespace's controller.
        var ns = await cp.NewNamespaceAsync();
        var pod = await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("plain"));
        Assert.Equal("default", pod.Spec.ServiceAccountName);
        Assert.Equal("default", pod.Spec.DeprecatedServiceAccount);

        var missing = await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods",
            """{"metadata":{"name":"orphan"},"spec":{"serviceAccountName":"robot","containers":[{"name":"c","image":"busybox:1"}]}}""");
        var status = await ApiClient.StatusAsync(missing, 403);
        Assert.Equal("Forbidden", status.Reason);
        Assert.Equal($"pods \"orphan\" is forbidden: error looking up service account {ns}/robot: serviceaccount \"robot\" not found", status.Message);

        await Api.CreateAsync($"/api/v1/namespaces/{ns}/serviceaccounts", new ServiceAccount { Metadata = new ObjectMeta { Name = "robot" } });
        // The deprecated field alone names the account too.
        var aliased = await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods",
            """{"metadata":{"name":"aliased"},"spec":{"serviceAccount":"robot","containers":[{"name":"c","image":"busybox:1"}]}}""");
        var stored = await ApiClient.ReadAsync<Pod>(aliased, System.Net.HttpStatusCode.Created);
        Assert.Equal("robot", stored.Spec.ServiceAccountName);
    }
}
