using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Kubectl;

/// <summary>
/// kubectl apply with its default validation and kubectl explain, which both read the server's
/// OpenAPI v3 documents: apply learns from them that the server validates fields itself and
/// sends fieldValidation; explain prints the model's fields and doc comments.
/// </summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class KubectlApplyTests(ControlPlaneFixture cp) : IDisposable
{
    private readonly KubectlRunner _kubectl = new(cp.KubeconfigPath);
    private readonly TempDirectory _files = new("kubectl-files");

    public void Dispose()
    {
        _kubectl.Dispose();
        _files.Dispose();
    }

    private static string DeploymentYaml(string name, string extraSpec = "") => $"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
        spec:
          replicas: 1
          selector:
            matchLabels:
              app: {name}
        {extraSpec}  template:
            metadata:
              labels:
                app: {name}
            spec:
              containers:
              - name: main
                image: busybox:1
                command: ["sleep", "3600"]
                ports:
                - containerPort: 8080
        """;

    private async Task<string> WriteAsync(string name, string yaml)
    {
        var path = Path.Combine(_files.Path, name);
        await File.WriteAllTextAsync(path, yaml);
        return path;
    }

    [Fact]
    public async Task ApplyCreatesWithValidationAndReapplyingChangesNothing()
    {
        var ns = await cp.NewNamespaceAsync("kapply");
        var file = await WriteAsync("web.yaml", DeploymentYaml("web"));

        var created = await _kubectl.RunAsync("apply", "-n", ns, "-f", file);
        var stored = await cp.Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/web");
        var again = await _kubectl.RunAsync("apply", "-n", ns, "-f", file);
        var after = await cp.Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/web");

        Assert.True(created.ExitCode == 0, created.StandardError);
        Assert.Equal("deployment.apps/web created", created.StandardOutput.Trim());
        Assert.DoesNotContain("openapi", created.StandardError, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(stored.Metadata.Annotation("kubectl.kubernetes.io/last-applied-configuration"));
        Assert.True(again.ExitCode == 0, again.StandardError);
        Assert.Equal("deployment.apps/web unchanged", again.StandardOutput.Trim());
        // The controller keeps writing status; the spec was not written again.
        Assert.Equal(stored.Metadata.Generation, after.Metadata.Generation);
    }

    [Fact]
    public async Task StrictValidationNamesAnUnknownField()
    {
        var ns = await cp.NewNamespaceAsync("kstrict");
        var file = await WriteAsync("bad.yaml", DeploymentYaml("bad", "  replicaz: 3\n"));

        var result = await _kubectl.RunAsync("apply", "--validate=strict", "-n", ns, "-f", file);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("unknown field \"spec.replicaz\"", result.StandardError, StringComparison.Ordinal);
        Assert.Null(await cp.Api.TryGetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/bad"));
    }

    [Fact]
    public async Task KubectlCachesTheDocumentsByHash()
    {
        await _kubectl.CheckAsync("explain", "deployment.spec");

        // -v=8 prints each response's headers; the second time the group-version's document
        // comes from kubectl's HTTP cache (its URL names the document's hash).
        var again = await _kubectl.RunAsync("explain", "deployment.spec", "-v=8");

        Assert.Equal(0, again.ExitCode);
        var log = again.StandardError.Split('\n');
        var request = Array.FindIndex(log, l => l.Contains("GET ", StringComparison.Ordinal) && l.Contains("/openapi/v3/apis/apps/v1?hash=", StringComparison.Ordinal));
        Assert.True(request >= 0, again.StandardError);
        Assert.Contains(log.Skip(request).TakeWhile(l => !l.Contains("Response Body", StringComparison.Ordinal)), l => l.Contains("X-From-Cache: 1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ExplainPrintsTheModelsFields()
    {
        var output = await _kubectl.CheckAsync("explain", "deployment.spec.strategy");

        Assert.Contains("KIND:       Deployment", output, StringComparison.Ordinal);
        Assert.Contains("FIELD: strategy <DeploymentStrategy>", output, StringComparison.Ordinal);
        Assert.Matches(@"rollingUpdate\s+<RollingUpdateDeployment>", output);
        Assert.Matches(@"type\s+<string>", output);
        // The model's doc comment on DeploymentStrategy.Type.
        Assert.Contains("RollingUpdate (the default) or Recreate.", output, StringComparison.Ordinal);
    }
}
