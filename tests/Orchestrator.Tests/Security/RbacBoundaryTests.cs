using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Grains.Security;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Security;

/// <summary>
/// RBAC at the API's boundary, end to end: roles and bindings written through the API decide
/// what users (client certificates), impersonated users (kubectl --as) and ServiceAccount tokens
/// (kubectl create token) may do. Every refusal names the verb and resource as Kubernetes does,
/// and changes nothing.
/// </summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class RbacBoundaryTests(ControlPlaneFixture cp)
{
    private ApiClient Admin => cp.Api;

    private HttpClient As(string user, params string[] groups)
    {
        var certificate = cp.Services.GetRequiredService<ClusterCredentials>().Ca.IssueClient(user, groups, DateTimeOffset.UtcNow);
        return Client(handler => handler.SslOptions.ClientCertificates = [certificate]);
    }

    private HttpClient WithToken(string token)
    {
        var http = Client(_ => { });
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private HttpClient Client(Action<SocketsHttpHandler> configure)
    {
        var ca = Kubeconfig.Read(cp.KubeconfigPath).CaPem;
        var handler = new SocketsHttpHandler { UseProxy = false };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, served, _, errors) => Kubeconfig.IsServedBy(ca, served, errors);
        configure(handler);
        return new HttpClient(handler) { BaseAddress = new Uri(cp.ApiAddress), Timeout = TimeSpan.FromSeconds(30) };
    }

    private async Task ApplyAsync(string collection, string yaml)
    {
        var response = await Admin.PostYamlAsync(collection, yaml);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{collection}: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private Task BindAsync(string ns, string name, string clusterRole, string subjectKind, string subject, string? subjectNamespace = null) =>
        ApplyAsync($"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings", $"""
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata:
              name: {name}
            roleRef:
              apiGroup: rbac.authorization.k8s.io
              kind: ClusterRole
              name: {clusterRole}
            subjects:
            - kind: {subjectKind}
              name: {subject}
            {(subjectNamespace is null ? "" : $"  namespace: {subjectNamespace}")}
            """);

    /// <summary>A Role with <paramref name="rules"/> (YAML flow style) and a RoleBinding of the
    /// same name giving it to user <paramref name="user"/>.</summary>
    private async Task GrantAsync(string ns, string name, string user, string rules)
    {
        await ApplyAsync($"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles", $$"""
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata: {name: {{name}}}
            rules: {{rules}}
            """);
        await ApplyAsync($"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings", $$"""
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: {{name}}}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: {{name}}}
            subjects: [{kind: User, name: {{user}}}]
            """);
    }

    private static StringContent Json<T>(T obj) where T : class =>
        new(ResourceJson.SerializeToString(obj), new MediaTypeHeaderValue("application/json"));

    [Fact]
    public async Task AViewerReadsButCannotWriteAndNothingChanges()
    {
        var ns = await cp.NewNamespaceAsync("rbac");
        var other = await cp.NewNamespaceAsync("rbac");
        await BindAsync(ns, "viewers", "view", "User", "viewer");
        using var viewer = As("viewer");

        await Eventually.True(async () => (await viewer.GetAsync($"/api/v1/namespaces/{ns}/pods")).IsSuccessStatusCode, "the binding to take effect");
        var create = await viewer.PostAsync($"/api/v1/namespaces/{ns}/pods", Json(Manifests.Pod("sneaky")));
        var elsewhere = await viewer.GetAsync($"/api/v1/namespaces/{other}/pods");

        var status = await ApiClient.StatusAsync(create, 403);
        Assert.Equal($"pods is forbidden: User \"viewer\" cannot create resource \"pods\" in API group \"\" in the namespace \"{ns}\"", status.Message);
        Assert.Equal("Forbidden", status.Reason);
        await ApiClient.StatusAsync(elsewhere, 403);
        Assert.Equal(HttpStatusCode.NotFound, (await Admin.Http.GetAsync($"/api/v1/namespaces/{ns}/pods/sneaky")).StatusCode);
    }

    [Fact]
    public async Task AnEditorWritesWorkloadsButCannotGrantRights()
    {
        var ns = await cp.NewNamespaceAsync("rbac");
        await BindAsync(ns, "editors", "edit", "Group", "team-a");
        using var editor = As("erin", "team-a");

        await Eventually.True(async () => (await editor.GetAsync($"/apis/apps/v1/namespaces/{ns}/deployments")).IsSuccessStatusCode, "the binding to take effect");
        var deployment = await editor.PostAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Json(Manifests.Deployment("web", 0)));
        var grant = await editor.PostAsync($"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings", new StringContent($$"""
            {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"me-admin"},
             "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},
             "subjects":[{"kind":"User","name":"erin","apiGroup":"rbac.authorization.k8s.io"}]}
            """, new MediaTypeHeaderValue("application/json")));

        Assert.Equal(HttpStatusCode.Created, deployment.StatusCode);
        var status = await ApiClient.StatusAsync(grant, 403);
        Assert.StartsWith("rolebindings.rbac.authorization.k8s.io is forbidden: User \"erin\" cannot create resource \"rolebindings\" in API group \"rbac.authorization.k8s.io\"", status.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Admin.Http.GetAsync($"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/me-admin")).StatusCode);
    }

    [Fact]
    public async Task ResourceNamesLimitARoleToTheNamedObjects()
    {
        var ns = await cp.NewNamespaceAsync("rbac");
        await GrantAsync(ns, "one-pod", "narrow", """[{apiGroups: [""], resources: [pods], resourceNames: [allowed], verbs: [get]}]""");
        using var narrow = As("narrow");

        // Allowed to look, and there is nothing: 404, not 403.
        await Eventually.True(async () => (await narrow.GetAsync($"/api/v1/namespaces/{ns}/pods/allowed")).StatusCode == HttpStatusCode.NotFound, "the binding to take effect");
        await ApiClient.StatusAsync(await narrow.GetAsync($"/api/v1/namespaces/{ns}/pods/other"), 403);
        await ApiClient.StatusAsync(await narrow.GetAsync($"/api/v1/namespaces/{ns}/pods"), 403);
        await ApiClient.StatusAsync(await narrow.DeleteAsync($"/api/v1/namespaces/{ns}/pods/allowed"), 403);
    }

    [Fact]
    public async Task PodRightsDoNotReadTheNamespaceThroughAnEncodedPath()
    {
        var ns = await cp.NewNamespaceAsync("rbac");
        await GrantAsync(ns, "pods", "podder", """[{apiGroups: [""], resources: [pods], verbs: ["*"]}]""");
        using var podder = As("podder");
        await Eventually.True(async () => (await podder.GetAsync($"/api/v1/namespaces/{ns}/pods")).IsSuccessStatusCode, "the binding to take effect");

        var uri = new Uri($"{cp.ApiAddress}/api/v1/namespaces/{ns}/pods/%2e%2e", new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var response = await podder.GetAsync(uri);

        var status = await ApiClient.StatusAsync(response, 403);
        Assert.StartsWith($"namespaces \"{ns}\" is forbidden: User \"podder\" cannot get resource \"namespaces\"", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KubectlAuthCanIAndGetAsAnswerAsKubernetes()
    {
        var ns = await cp.NewNamespaceAsync("rbac");
        await BindAsync(ns, "viewers", "view", "User", "kviewer");
        string[] kubectl = ["--kubeconfig", cp.KubeconfigPath, "-n", ns];
        await Eventually.True(async () => (await HostCommand.RunAsync("kubectl", [.. kubectl, "auth", "can-i", "list", "pods", "--as", "kviewer"])).ExitCode == 0, "the binding to take effect");

        var canCreate = await HostCommand.RunAsync("kubectl", [.. kubectl, "auth", "can-i", "create", "deployments.apps", "--as", "kviewer"]);
        var get = await HostCommand.RunAsync("kubectl", [.. kubectl, "get", "pods", "--as", "kviewer"]);
        var stranger = await HostCommand.RunAsync("kubectl", [.. kubectl, "get", "pods", "--as", "stranger"]);
        var admin = await HostCommand.RunAsync("kubectl", [.. kubectl, "auth", "can-i", "*", "*"]);

        Assert.Equal("no", canCreate.StandardOutput.Trim());
        Assert.Equal(1, canCreate.ExitCode);
        Assert.Equal(0, get.ExitCode);
        Assert.NotEqual(0, stranger.ExitCode);
        Assert.Contains($"pods is forbidden: User \"stranger\" cannot list resource \"pods\" in API group \"\" in the namespace \"{ns}\"", stranger.StandardError, StringComparison.Ordinal);
        Assert.Equal("yes", admin.StandardOutput.Trim());
    }

    [Fact]
    public async Task AServiceAccountTokenActsOnlyWhereItsAccountIsBound()
    {
        var home = await cp.NewNamespaceAsync("rbac");
        var away = await cp.NewNamespaceAsync("rbac");
        await BindAsync(home, "sa-view", "view", "ServiceAccount", "default", home);
        var token = (await Eventually.Until(async () =>
        {
            var result = await HostCommand.RunAsync("kubectl", ["--kubeconfig", cp.KubeconfigPath, "-n", home, "create", "token", "default"]);
            return result.ExitCode == 0 ? result.StandardOutput.Trim() : null;
        }, "kubectl create token")).Trim();
        using var sa = WithToken(token);

        await Eventually.True(async () => (await sa.GetAsync($"/api/v1/namespaces/{home}/pods")).IsSuccessStatusCode, "the binding to take effect");
        var elsewhere = await sa.GetAsync($"/api/v1/namespaces/{away}/pods");
        var write = await sa.PostAsync($"/api/v1/namespaces/{home}/pods", Json(Manifests.Pod("from-sa")));
        using var tampered = WithToken(token[..^6] + (token[^6..] == "AAAAAA" ? "BBBBBB" : "AAAAAA"));
        var forged = await tampered.GetAsync($"/api/v1/namespaces/{home}/pods");

        var status = await ApiClient.StatusAsync(elsewhere, 403);
        Assert.Equal($"pods is forbidden: User \"system:serviceaccount:{home}:default\" cannot list resource \"pods\" in API group \"\" in the namespace \"{away}\"", status.Message);
        await ApiClient.StatusAsync(write, 403);
        await ApiClient.StatusAsync(forged, 401);
        Assert.Equal(HttpStatusCode.NotFound, (await Admin.Http.GetAsync($"/api/v1/namespaces/{home}/pods/from-sa")).StatusCode);
    }
}
