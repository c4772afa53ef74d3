using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Grains.Security;
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

    [Fact]
    public async Task TokenRequestIssuesATokenTheApiAccepts()
    {
        var ns = await cp.NewNamespaceAsync();
        await Eventually.Until(() => Api.TryGetAsync<ServiceAccount>($"/api/v1/namespaces/{ns}/serviceaccounts/default"), "the default ServiceAccount");
        var path = $"/api/v1/namespaces/{ns}/serviceaccounts/default/token";
        var response = await Api.PostJsonAsync(path, """{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}""");
        var answer = await ApiClient.ReadAsync<TokenRequest>(response, HttpStatusCode.Created);
        Assert.Equal("TokenRequest", answer.Kind);
        Assert.Equal(3600, answer.Spec.ExpirationSeconds);
        Assert.InRange(answer.Status!.ExpirationTimestamp - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(61));

        var user = await AuthenticateAsync(answer.Status.Token);
        Assert.Equal($"system:serviceaccount:{ns}:default", user?.Name);
        // The API takes the token: the account is known (403 from RBAC, not 401).
        using (var asAccount = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/namespaces/{ns}/pods"))
        {
            asAccount.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", answer.Status.Token);
            var denied = await Api.Http.SendAsync(asAccount);
            var text = await denied.Content.ReadAsStringAsync();
            Assert.True(denied.StatusCode == HttpStatusCode.Forbidden, text);
            Assert.Contains($"system:serviceaccount:{ns}:default", text);
        }

        var tooShort = await Api.PostJsonAsync(path, """{"spec":{"expirationSeconds":599}}""");
        var status = await ApiClient.StatusAsync(tooShort, 422);
        Assert.Equal("TokenRequest.authentication.k8s.io \"default\" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes", status.Message);
        await ApiClient.StatusAsync(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/serviceaccounts/nobody/token", "{}"), 404);

        var discovery = await Api.Http.GetStringAsync("/api/v1");
        Assert.Contains("\"serviceaccounts/token\"", discovery);
    }

    [Fact]
    public async Task APodBoundTokenStopsWorkingWhenThePodIsDeleted()
    {
        var ns = await cp.NewNamespaceAsync();
        var pod = await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("app"));
        var request = new TokenRequest
        {
            Spec = new TokenRequestSpec
            {
                Audiences = [ClusterCredentials.DefaultIssuer, "vault"],
                BoundObjectRef = new BoundObjectReference { Kind = "Pod", ApiVersion = "v1", Name = "app", Uid = pod.Metadata.Uid },
            },
        };
        var response = await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/serviceaccounts/default/token", Orchestrator.Serialization.ResourceJson.SerializeToString(request));
        var token = (await ApiClient.ReadAsync<TokenRequest>(response, HttpStatusCode.Created)).Status!.Token;
        var user = await AuthenticateAsync(token);
        Assert.Equal(["app"], user!.Extra[ServiceAccountTokenAuthenticator.PodNameKey]);

        var deleted = await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/pods/app");
        Assert.True(deleted.IsSuccessStatusCode);
        await Eventually.True(async () =>
        {
            try
            {
                await AuthenticateAsync(token);
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return true;
            }
        }, "the bound token refused");
    }

    private async Task<UserInfo?> AuthenticateAsync(string token)
    {
        foreach (var authenticator in cp.Services.GetServices<ITokenAuthenticator>())
        {
            if (await authenticator.AuthenticateAsync(token, default) is { } user)
            {
                return user;
            }
        }
        return null;
    }
}
