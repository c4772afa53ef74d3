using System.Net;
using System.Text;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.HttpApi;

/// <summary>Bad input gets a 4xx Kubernetes Status that names the problem, and stores nothing.</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class ApiErrorTests(ControlPlaneFixture cp)
{
    private ApiClient Api => cp.Api;

    private async Task AssertNothingStoredAsync(string ns)
    {
        Assert.Empty(await Api.ListAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments"));
        Assert.Empty(await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods"));
    }

    [Fact]
    public async Task MalformedJsonIs400()
    {
        var ns = await cp.NewNamespaceAsync();
        var status = await ApiClient.StatusAsync(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods", "{\"metadata\": {\"name\": \"p\""), 400);
        Assert.Equal(StatusReason.BadRequest, status.Reason);
        Assert.Contains("not valid JSON", status.Message, StringComparison.Ordinal);
        await AssertNothingStoredAsync(ns);
    }

    [Fact]
    public async Task MalformedYamlIs400()
    {
        var ns = await cp.NewNamespaceAsync();
        var status = await ApiClient.StatusAsync(await Api.PostYamlAsync($"/api/v1/namespaces/{ns}/pods", "metadata:\n  name: [p\n"), 400);
        Assert.Contains("not valid YAML", status.Message, StringComparison.Ordinal);
        await AssertNothingStoredAsync(ns);
    }

    [Fact]
    public async Task WrongKindOrApiVersionIs400()
    {
        var ns = await cp.NewNamespaceAsync();
        var status = await ApiClient.StatusAsync(await Api.PostYamlAsync($"/api/v1/namespaces/{ns}/pods", "apiVersion: v1\nkind: Service\nmetadata: {name: p}\n"), 400);
        Assert.Contains("the kind in the data (Service)", status.Message, StringComparison.Ordinal);
        status = await ApiClient.StatusAsync(await Api.PostYamlAsync($"/apis/apps/v1/namespaces/{ns}/deployments", "apiVersion: apps/v2\nkind: Deployment\nmetadata: {name: d}\n"), 400);
        Assert.Contains("API version in the data (apps/v2)", status.Message, StringComparison.Ordinal);
        await AssertNothingStoredAsync(ns);
    }

    [Fact]
    public async Task MissingFieldsAndNegativeReplicasAre422WithCauses()
    {
        var ns = await cp.NewNamespaceAsync();
        var response = await Api.PostYamlAsync($"/apis/apps/v1/namespaces/{ns}/deployments", """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: -1
              template:
                metadata: {labels: {app: web}}
                spec:
                  containers:
                  - name: web
            """);
        var status = await ApiClient.StatusAsync(response, 422);
        Assert.Equal(StatusReason.Invalid, status.Reason);
        Assert.StartsWith("Deployment.apps \"web\" is invalid: [", status.Message, StringComparison.Ordinal);
        var causes = status.Details!.Causes!.Select(c => c.Field).ToList();
        Assert.Contains("spec.replicas", causes);
        Assert.Contains("spec.selector", causes);
        Assert.Contains("spec.template.spec.containers[0].image", causes);
        Assert.Contains("spec.replicas: Invalid value: -1: must be greater than or equal to 0", status.Message, StringComparison.Ordinal);
        await AssertNothingStoredAsync(ns);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("semi;colon")]
    [InlineData("$(whoami)")]
    [InlineData("back`tick`")]
    [InlineData("UPPER")]
    public async Task BadNamesAre422(string name)
    {
        var ns = await cp.NewNamespaceAsync();
        var body = $$$"""{"metadata":{"name":{{{System.Text.Json.JsonSerializer.Serialize(name)}}}},"spec":{"containers":[{"name":"c","image":"i"}]}}""";
        var status = await ApiClient.StatusAsync(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods", body), 422);
        Assert.Contains("metadata.name", status.Details!.Causes!.Select(c => c.Field));
        await AssertNothingStoredAsync(ns);
    }

    [Fact]
    public async Task A300CharacterNameIs422()
    {
        var ns = await cp.NewNamespaceAsync();
        var body = $$$"""{"metadata":{"name":"{{{new string('a', 300)}}}"},"spec":{"containers":[{"name":"c","image":"i"}]}}""";
        var status = await ApiClient.StatusAsync(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods", body), 422);
        Assert.Contains("no more than 253 characters", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ANameWithASlashOnTheUrlIsNotFound()
    {
        var ns = await cp.NewNamespaceAsync();
        var response = await Api.Http.GetAsync($"/api/v1/namespaces/{ns}/pods/a%2Fb");
        await ApiClient.StatusAsync(response, 404);
    }

    [Fact]
    public async Task ATenMegabyteBodyIs413()
    {
        var ns = await cp.NewNamespaceAsync();
        var big = "{\"metadata\":{\"name\":\"p\",\"annotations\":{\"x\":\"" + new string('x', 10 * 1024 * 1024) + "\"}}}";
        var status = await ApiClient.StatusAsync(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods", big), 413);
        Assert.Equal(StatusReason.RequestEntityTooLarge, status.Reason);
        await AssertNothingStoredAsync(ns);
    }

    [Fact]
    public async Task UnknownFieldsAre400AndNameTheField()
    {
        var ns = await cp.NewNamespaceAsync();
        var status = await ApiClient.StatusAsync(await Api.PostYamlAsync($"/api/v1/namespaces/{ns}/pods", "metadata: {name: p}\nspec:\n  containers: [{name: c, image: i}]\n  shareProcessNamespace: true\n"), 400);
        Assert.Contains("unknown field \"spec.shareProcessNamespace\"", status.Message, StringComparison.Ordinal);
        await AssertNothingStoredAsync(ns);
    }

    [Fact]
    public async Task NotFoundAlreadyExistsAndConflict()
    {
        var ns = await cp.NewNamespaceAsync();
        var notFound = await ApiClient.StatusAsync(await Api.Http.GetAsync($"/apis/apps/v1/namespaces/{ns}/deployments/nope"), 404);
        Assert.Equal("deployments.apps \"nope\" not found", notFound.Message);

        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 0));
        var again = await ApiClient.StatusAsync(await Api.PostJsonAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Serialization.ResourceJson.SerializeToString(Manifests.Deployment("web", 0))), 409);
        Assert.Equal(StatusReason.AlreadyExists, again.Reason);

        // Endpoints without a service: nothing but this test writes them.
        var created = await Api.CreateAsync($"/api/v1/namespaces/{ns}/endpoints", new Endpoints { Metadata = new ObjectMeta { Name = "ep" } });
        var path = $"/api/v1/namespaces/{ns}/endpoints/ep";
        var first = created with { Metadata = created.Metadata with { Labels = new Dictionary<string, string> { ["v"] = "1" } } };
        var updated = await ApiClient.ReadAsync<Endpoints>(await Api.SendAsync(HttpMethod.Put, path, Serialization.ResourceJson.SerializeToString(first)), HttpStatusCode.OK);
        Assert.NotEqual(created.Metadata.ResourceVersion, updated.Metadata.ResourceVersion);
        // Writing again with the first resourceVersion is now stale.
        var second = created with { Metadata = created.Metadata with { Labels = new Dictionary<string, string> { ["v"] = "2" } } };
        var stale = await ApiClient.StatusAsync(await Api.SendAsync(HttpMethod.Put, path, Serialization.ResourceJson.SerializeToString(second)), 409);
        Assert.Equal(StatusReason.Conflict, stale.Reason);
        Assert.Contains("the object has been modified", stale.Message, StringComparison.Ordinal);
        Assert.Equal("1", (await Api.GetAsync<Endpoints>(path)).Metadata.Labels!["v"]);
    }

    [Fact]
    public async Task CreatingInAMissingNamespaceIs404()
    {
        var status = await ApiClient.StatusAsync(await Api.PostJsonAsync("/api/v1/namespaces/does-not-exist/pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}"""), 404);
        Assert.Equal("namespaces \"does-not-exist\" not found", status.Message);
    }

    [Fact]
    public async Task UnknownPathsAndMethodsGetAStatus()
    {
        await ApiClient.StatusAsync(await Api.Http.GetAsync("/api/v1/widgets"), 404);
        await ApiClient.StatusAsync(await Api.SendAsync(HttpMethod.Put, "/api/v1/pods"), 405);
    }

    [Fact]
    public async Task UnsupportedMediaTypeIs415()
    {
        var ns = await cp.NewNamespaceAsync();
        await ApiClient.StatusAsync(await Api.SendAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/pods", "<pod/>", "application/xml"), 415);
    }

    [Fact]
    public async Task ABadDocumentInAMultiDocumentYamlStoresNothing()
    {
        var ns = await cp.NewNamespaceAsync();
        var yaml = """
            metadata: {name: good}
            spec: {containers: [{name: c, image: i}]}
            ---
            metadata: {name: Bad Name}
            spec: {containers: [{name: c, image: i}]}
            """;
        var status = await ApiClient.StatusAsync(await Api.PostYamlAsync($"/api/v1/namespaces/{ns}/pods", yaml), 422);
        Assert.StartsWith("document 2 of 2:", status.Message, StringComparison.Ordinal);
        await AssertNothingStoredAsync(ns);
    }

    [Fact]
    public async Task MultiDocumentYamlCreatesEveryObject()
    {
        var ns = await cp.NewNamespaceAsync();
        var yaml = string.Join("---\n", Enumerable.Range(1, 3).Select(i => $"metadata: {{name: p{i}}}\nspec: {{containers: [{{name: c, image: i}}]}}\n"));
        var response = await Api.PostYamlAsync($"/api/v1/namespaces/{ns}/pods", yaml);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(["p1", "p2", "p3"], (await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods")).Select(p => p.Metadata.Name!).ToArray());
    }

    [Fact]
    public async Task SelectorsInQueriesAreChecked()
    {
        var status = await ApiClient.StatusAsync(await Api.Http.GetAsync("/api/v1/pods?labelSelector=app%20in%20web"), 400);
        Assert.Contains("labelSelector", status.Message, StringComparison.Ordinal);
        status = await ApiClient.StatusAsync(await Api.Http.GetAsync("/api/v1/pods?fieldSelector=spec.foo%3Dbar"), 400);
        Assert.Contains("spec.foo", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHostPathOutsideTheAllowedRootsIs422()
    {
        // Privileged: Pod Security's baseline would refuse any hostPath, allowed root or not.
        var ns = await cp.NewNamespaceAsync(labels: new Dictionary<string, string> { [PodSecurityLabels.Enforce] = PodSecurityLabels.Privileged });
        var yaml = """
            metadata: {name: p}
            spec:
              containers: [{name: c, image: i, volumeMounts: [{name: etc, mountPath: /host-etc}]}]
              volumes: [{name: etc, hostPath: {path: /etc}}]
            """;
        var status = await ApiClient.StatusAsync(await Api.PostYamlAsync($"/api/v1/namespaces/{ns}/pods", yaml), 422);
        var cause = Assert.Single(status.Details!.Causes!);
        Assert.Equal("spec.volumes[0].hostPath.path", cause.Field);
        Assert.Contains("outside the allowed host path roots", cause.Message, StringComparison.Ordinal);
        var allowed = yaml.Replace("/etc}", "/tmp/data}", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, (await Api.PostYamlAsync($"/api/v1/namespaces/{ns}/pods", allowed)).StatusCode);
    }

    [Fact]
    public async Task BinaryGarbageIs400()
    {
        var ns = await cp.NewNamespaceAsync();
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes("\u0001\u0002{{{:::"));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/yaml");
        var status = await ApiClient.StatusAsync(await Api.Http.PostAsync($"/api/v1/namespaces/{ns}/pods", content), 400);
        Assert.Equal(400, status.Code);
    }

    [Fact]
    public async Task BadEvictionAndRollbackBodiesAre400AndChangeNothing()
    {
        var ns = await cp.NewNamespaceAsync();
        var deployment = await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 0));
        await Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", Manifests.Pod("p"));
        var eviction = $"/api/v1/namespaces/{ns}/pods/p/eviction";
        var rollback = $"/apis/apps/v1/namespaces/{ns}/deployments/web/rollback";

        foreach (var (path, body, expected) in new[]
        {
            (eviction, "[1]", "an eviction must be an object"),
            (eviction, """{"deleteOption":{}}""", "unknown field \"deleteOption\" in an eviction"),
            (eviction, """{"metadata":"p"}""", "metadata in an eviction must be an object"),
            (eviction, """{"metadata":{"name":7}}""", "metadata.name in an eviction must be a string"),
            (eviction, """{"metadata":{"name":"q"}}""", "does not match the pod (p)"),
            (rollback, """{"revision":1}""", "unknown field \"revision\" in a rollback"),
            (rollback, """{"rollbackTo":1}""", "rollbackTo must be an object"),
            (rollback, """{"rollbackTo":{"revision":-1}}""", "rollbackTo.revision must be a non-negative integer"),
        })
        {
            var status = await ApiClient.StatusAsync(await Api.PostJsonAsync(path, body), 400);
            Assert.Contains(expected, status.Message, StringComparison.Ordinal);
        }

        // (The pod's status may change meanwhile: it waits for a node.)
        Assert.Null((await Api.GetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/p")).Metadata.DeletionTimestamp);
        Assert.Equal(deployment.Metadata.Generation, (await Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/web")).Metadata.Generation);
    }
}
