using System.Net;
using System.Text.Json.Nodes;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.HttpApi;

/// <summary>Strategic merge patches over HTTP, and dryRun=All on every write: the answer is the
/// object that would result, and nothing is stored (a GET shows the old object at its old
/// resourceVersion).</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class DryRunApiTests(ControlPlaneFixture cp)
{
    private const string StrategicMergePatch = "application/strategic-merge-patch+json";

    private ApiClient Api => cp.Api;

    private static string DeploymentsPath(string ns) => $"/apis/apps/v1/namespaces/{ns}/deployments";

    private async Task<(string Ns, Deployment Created)> CreateDeploymentAsync()
    {
        var ns = await cp.NewNamespaceAsync();
        var d = Manifests.Deployment("web", 1, image: "web:1");
        d = d with
        {
            Spec = d.Spec with
            {
                Template = d.Spec.Template with
                {
                    Spec = d.Spec.Template.Spec with { Containers = [.. d.Spec.Template.Spec.Containers, new Container { Name = "side", Image = "side:1" }] },
                },
            },
        };
        return (ns, await Api.CreateAsync(DeploymentsPath(ns), d));
    }

    [Fact]
    public async Task StrategicMergePatchMergesContainersByName()
    {
        var (ns, created) = await CreateDeploymentAsync();
        var first = created.Spec.Template.Spec.Containers[0].Name;
        var patched = await ApiClient.ReadAsync<Deployment>(await Api.SendAsync(HttpMethod.Patch, $"{DeploymentsPath(ns)}/web",
            """{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"side:2"}]}}}}""", StrategicMergePatch), HttpStatusCode.OK);
        Assert.Equal([(first, "web:1"), ("side", "side:2")], patched.Spec.Template.Spec.Containers.Select(c => (c.Name, c.Image!)));
    }

    /// <summary>A Service: no controller writes it after it is created, so its resourceVersion
    /// moves only when a client's write is stored.</summary>
    private async Task<(string Path, Service Before)> CreateServiceAsync()
    {
        var ns = await cp.NewNamespaceAsync();
        var path = $"/api/v1/namespaces/{ns}/services";
        await ApiClient.ReadAsync<Service>(await Api.PostJsonAsync(path,
            """{"metadata":{"name":"svc"},"spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":8080},{"name":"https","port":443}]}}"""), HttpStatusCode.Created);
        return ($"{path}/svc", await Api.GetAsync<Service>($"{path}/svc"));
    }

    [Fact]
    public async Task DryRunPatchAnswersTheResultAndStoresNothing()
    {
        var (path, before) = await CreateServiceAsync();
        var answer = await ApiClient.ReadAsync<Service>(await Api.SendAsync(HttpMethod.Patch, $"{path}?dryRun=All",
            """{"metadata":{"labels":{"dry":"yes"}},"spec":{"ports":[{"port":80,"targetPort":9090}]}}""", StrategicMergePatch), HttpStatusCode.OK);
        Assert.Equal("yes", answer.Metadata.Labels!["dry"]);
        Assert.Equal([(80, "9090"), (443, "443")], answer.Spec.Ports!.Select(p => (p.Port, p.TargetPort!.ToString()!)));

        var after = await Api.GetAsync<Service>(path);
        Assert.Equal(before.Metadata.ResourceVersion, after.Metadata.ResourceVersion);
        Assert.Null(after.Metadata.Labels);
        Assert.Equal("8080", after.Spec.Ports![0].TargetPort!.ToString());
    }

    [Fact]
    public async Task DryRunReplaceStatusAndDeleteStoreNothing()
    {
        var (path, before) = await CreateServiceAsync();
        var replaced = await ApiClient.ReadAsync<Service>(await Api.SendAsync(HttpMethod.Put, $"{path}?dryRun=All",
            Serialization.ResourceJson.SerializeToString(before with { Metadata = before.Metadata with { Labels = new Dictionary<string, string> { ["r"] = "1" } } })), HttpStatusCode.OK);
        Assert.Equal("1", replaced.Metadata.Labels!["r"]);
        Assert.Equal(before.Metadata.ResourceVersion, replaced.Metadata.ResourceVersion);
        var status = await ApiClient.ReadAsync<JsonObject>(await Api.SendAsync(HttpMethod.Patch, $"{path}/status?dryRun=All",
            """{"status":{"loadBalancer":{"ingress":[{"ip":"10.1.2.3"}]}}}""", "application/merge-patch+json"), HttpStatusCode.OK);
        Assert.Equal("10.1.2.3", (string)status["status"]!["loadBalancer"]!["ingress"]![0]!["ip"]!);
        Assert.Equal(HttpStatusCode.OK, (await Api.SendAsync(HttpMethod.Delete, $"{path}?dryRun=All")).StatusCode);

        var after = await Api.GetAsync<Service>(path);
        Assert.Equal(before.Metadata.ResourceVersion, after.Metadata.ResourceVersion);
        Assert.Null(after.Metadata.Labels);
        Assert.Null(after.Status?.LoadBalancer?.Ingress);
    }

    [Fact]
    public async Task DryRunScaleLeavesTheSpec()
    {
        var (ns, created) = await CreateDeploymentAsync();
        var path = $"{DeploymentsPath(ns)}/web";
        var scaled = await ApiClient.ReadAsync<JsonObject>(await Api.SendAsync(HttpMethod.Patch, $"{path}/scale?dryRun=All",
            """{"spec":{"replicas":9}}""", "application/merge-patch+json"), HttpStatusCode.OK);
        Assert.Equal(9, (int)scaled["spec"]!["replicas"]!);
        var put = await ApiClient.ReadAsync<JsonObject>(await Api.SendAsync(HttpMethod.Put, $"{path}/scale?dryRun=All",
            """{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web"},"spec":{"replicas":8}}"""), HttpStatusCode.OK);
        Assert.Equal(8, (int)put["spec"]!["replicas"]!);

        var after = await Api.GetAsync<Deployment>(path);
        Assert.Equal(created.Spec.Replicas, after.Spec.Replicas);
        Assert.Equal(created.Metadata.Generation, after.Metadata.Generation);
    }

    [Fact]
    public async Task DryRunCreateIsValidatedAndDefaultedButNotStored()
    {
        var ns = await cp.NewNamespaceAsync();
        var created = await ApiClient.ReadAsync<Deployment>(await Api.SendAsync(HttpMethod.Post, $"{DeploymentsPath(ns)}?dryRun=All",
            Serialization.ResourceJson.SerializeToString(Manifests.Deployment("dry", 2))), HttpStatusCode.Created);
        Assert.Null(created.Metadata.ResourceVersion);
        Assert.NotNull(created.Spec.Strategy);
        Assert.Null(await Api.TryGetAsync<Deployment>($"{DeploymentsPath(ns)}/dry"));

        var invalid = await ApiClient.StatusAsync(await Api.SendAsync(HttpMethod.Post, $"{DeploymentsPath(ns)}?dryRun=All",
            Serialization.ResourceJson.SerializeToString(Manifests.Deployment("dry", -1))), 422);
        Assert.Contains("spec.replicas", invalid.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRunCreateIsAdmittedLikeARealOne()
    {
        var ns = await cp.NewNamespaceAsync();
        var pods = $"/api/v1/namespaces/{ns}/pods";
        var privileged = """{"metadata":{"name":"x"},"spec":{"containers":[{"name":"c","image":"busybox","securityContext":{"privileged":true}}]}}""";
        var refused = await ApiClient.StatusAsync(await Api.PostJsonAsync($"{pods}?dryRun=All", privileged), 403);
        Assert.Equal("pods \"x\" is forbidden: violates PodSecurity \"baseline:latest\": privileged (container \"c\" must not set securityContext.privileged=true)", refused.Message);

        var pod = await ApiClient.ReadAsync<Pod>(await Api.PostJsonAsync($"{pods}?dryRun=All",
            """{"metadata":{"name":"y"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"""), HttpStatusCode.Created);
        Assert.NotNull(pod.Metadata.Uid);
        Assert.Null(pod.Metadata.ResourceVersion);
        Assert.Equal("default", pod.Spec.ServiceAccountName);
        Assert.NotEmpty(pod.Spec.Tolerations!);
        Assert.Empty(await Api.ListAsync<Pod>(pods));
    }

    [Fact]
    public async Task AnUnknownDryRunValueIsRefusedAsKubernetesRefusesIt()
    {
        var (ns, _) = await CreateDeploymentAsync();
        var status = await ApiClient.StatusAsync(await Api.SendAsync(HttpMethod.Patch, $"{DeploymentsPath(ns)}/web?dryRun=Some",
            """{"spec":{"replicas":2}}""", StrategicMergePatch), 422);
        Assert.Equal("PatchOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Some\"}: supported values: \"All\"", status.Message);
        var delete = await ApiClient.StatusAsync(await Api.SendAsync(HttpMethod.Delete, $"{DeploymentsPath(ns)}/web?dryRun=yes"), 422);
        Assert.StartsWith("DeleteOptions.meta.k8s.io", delete.Message, StringComparison.Ordinal);
        Assert.Equal(1, (await Api.GetAsync<Deployment>($"{DeploymentsPath(ns)}/web")).Spec.Replicas);
    }
}
