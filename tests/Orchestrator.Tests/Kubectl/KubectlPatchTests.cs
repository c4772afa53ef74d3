using CliWrap.Buffered;
using Orchestrator.Model;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Kubectl;

/// <summary>
/// The real /usr/bin/kubectl against a real silo: client-side apply (three-way strategic merge
/// patches), label, annotate, patch, edit, scale, set image, rollout restart/pause/resume, cordon and
/// uncordon, and server-side dry runs. Each case checks what kubectl prints and the object that
/// results. Until the API serves OpenAPI, apply, create and edit run with --validate=false (kubectl's schema
/// validation downloads it; the patch itself is computed from kubectl's compiled-in types).
/// </summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class KubectlPatchTests(ControlPlaneFixture cp)
{
    private ApiClient Api => cp.Api;

    private static string DeploymentYaml(string name, string image, string? env = null) => $"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
          labels:
            app: {name}
        spec:
          replicas: 1
          selector:
            matchLabels:
              app: {name}
          template:
            metadata:
              labels:
                app: {name}
            spec:
              containers:
              - name: main
                image: {image}
                {(env is null ? "" : $"env:\n        - name: MODE\n          value: {env}")}
              - name: side
                image: side:1
        """;

    private async Task<BufferedCommandResult> KubectlAsync(string? ns, params string[] args)
    {
        string[] common = ns is null ? ["--kubeconfig", cp.KubeconfigPath] : ["--kubeconfig", cp.KubeconfigPath, "-n", ns];
        return await HostCommand.RunAsync("kubectl", [.. common, .. args]);
    }

    private async Task<string> KubectlOkAsync(string? ns, params string[] args)
    {
        var result = await KubectlAsync(ns, args);
        Assert.True(result.ExitCode == 0, $"kubectl {string.Join(' ', args)} exited {result.ExitCode}: {result.StandardError}");
        return result.StandardOutput.Trim();
    }

    private static string WriteManifest(string yaml)
    {
        var path = Path.Combine(Path.GetTempPath(), $"kubectl-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private Task<Deployment> GetDeploymentAsync(string ns, string name) => Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/{name}");

    [Fact]
    public async Task ApplyCreatesThenConfiguresThenLeavesUnchanged()
    {
        var ns = await cp.NewNamespaceAsync();
        var file = WriteManifest(DeploymentYaml("web", "web:1"));
        try
        {
            Assert.Equal("deployment.apps/web created", await KubectlOkAsync(ns, "apply", "--validate=false", "-f", file));
            var created = await GetDeploymentAsync(ns, "web");
            Assert.Contains("kubectl.kubernetes.io/last-applied-configuration", created.Metadata.Annotations!.Keys);

            // Applying the same file again computes an empty patch: nothing is written, so the
            // spec's generation stays (the controller may still write status meanwhile).
            Assert.Equal("deployment.apps/web unchanged", await KubectlOkAsync(ns, "apply", "--validate=false", "-f", file));
            Assert.Equal(created.Metadata.Generation, (await GetDeploymentAsync(ns, "web")).Metadata.Generation);

            File.WriteAllText(file, DeploymentYaml("web", "web:2", env: "fast"));
            Assert.Equal("deployment.apps/web configured", await KubectlOkAsync(ns, "apply", "--validate=false", "-f", file));
            var configured = await GetDeploymentAsync(ns, "web");
            var containers = configured.Spec.Template.Spec.Containers;
            Assert.Equal(["main", "side"], containers.Select(c => c.Name));
            Assert.Equal("web:2", containers[0].Image);
            Assert.Equal("fast", Assert.Single(containers[0].Env!).Value);
            Assert.Equal(created.Metadata.Generation + 1, configured.Metadata.Generation);

            Assert.Equal("deployment.apps/web unchanged", await KubectlOkAsync(ns, "apply", "--validate=false", "-f", file));
            Assert.Equal(configured.Metadata.Generation, (await GetDeploymentAsync(ns, "web")).Metadata.Generation);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task ApplyRemovesWhatTheFileNoLongerHasAndKeepsWhatOthersAdded()
    {
        var ns = await cp.NewNamespaceAsync();
        var file = WriteManifest(DeploymentYaml("web", "web:1", env: "slow"));
        try
        {
            await KubectlOkAsync(ns, "apply", "--validate=false", "-f", file);
            // Someone else's label: not in the last-applied configuration, so apply leaves it.
            await KubectlOkAsync(ns, "label", "deployment", "web", "owner=ops");
            // The file loses the side container and the env: kubectl's three-way patch deletes
            // them ($patch: delete by merge key, $setElementOrder, null).
            File.WriteAllText(file, DeploymentYaml("web", "web:1").Replace("      - name: side\n        image: side:1", "", StringComparison.Ordinal));
            Assert.Equal("deployment.apps/web configured", await KubectlOkAsync(ns, "apply", "--validate=false", "-f", file));
            var d = await GetDeploymentAsync(ns, "web");
            var main = Assert.Single(d.Spec.Template.Spec.Containers);
            Assert.Equal("main", main.Name);
            Assert.Null(main.Env);
            Assert.Equal("ops", d.Metadata.Labels!["owner"]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task ApplyOfTheSameFileTwiceKeepsTheResourceVersion()
    {
        // A Service: no controller writes it after admission, so its resourceVersion moves only
        // when a client's write changes it.
        var ns = await cp.NewNamespaceAsync();
        var file = WriteManifest("""
            apiVersion: v1
            kind: Service
            metadata:
              name: svc
            spec:
              selector:
                app: web
              ports:
              - name: http
                port: 80
                targetPort: 8080
            """);
        try
        {
            Assert.Equal("service/svc created", await KubectlOkAsync(ns, "apply", "--validate=false", "-f", file));
            var before = await Api.GetAsync<Service>($"/api/v1/namespaces/{ns}/services/svc");
            Assert.Equal("service/svc unchanged", await KubectlOkAsync(ns, "apply", "--validate=false", "-f", file));
            Assert.Equal(before.Metadata.ResourceVersion, (await Api.GetAsync<Service>($"/api/v1/namespaces/{ns}/services/svc")).Metadata.ResourceVersion);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task LabelAnnotatePatchScaleAndSetImage()
    {
        var ns = await cp.NewNamespaceAsync();
        var file = WriteManifest(DeploymentYaml("web", "web:1"));
        try
        {
            await KubectlOkAsync(ns, "apply", "--validate=false", "-f", file);
            Assert.Equal("deployment.apps/web labeled", await KubectlOkAsync(ns, "label", "deployment", "web", "tier=front"));
            Assert.Equal("deployment.apps/web annotated", await KubectlOkAsync(ns, "annotate", "deployment", "web", "note=hello"));
            // kubectl patch's default type is strategic: the container list merges by name.
            Assert.Equal("deployment.apps/web patched", await KubectlOkAsync(ns, "patch", "deployment", "web", "-p",
                """{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"side:2"}]}}}}"""));
            Assert.Equal("deployment.apps/web scaled", await KubectlOkAsync(ns, "scale", "deployment", "web", "--replicas=3"));
            Assert.Equal("deployment.apps/web image updated", await KubectlOkAsync(ns, "set", "image", "deployment/web", "main=web:9"));

            var d = await GetDeploymentAsync(ns, "web");
            Assert.Equal("front", d.Metadata.Labels!["tier"]);
            Assert.Equal("web", d.Metadata.Labels!["app"]);
            Assert.Equal("hello", d.Metadata.Annotations!["note"]);
            Assert.Equal(3, d.Spec.Replicas);
            Assert.Equal([("main", "web:9"), ("side", "side:2")], d.Spec.Template.Spec.Containers.Select(c => (c.Name, c.Image!)));

            Assert.Equal("deployment.apps/web unlabeled", await KubectlOkAsync(ns, "label", "deployment", "web", "tier-"));
            Assert.False((await GetDeploymentAsync(ns, "web")).Metadata.Labels!.ContainsKey("tier"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task RolloutRestartPauseAndResume()
    {
        var ns = await cp.NewNamespaceAsync();
        var file = WriteManifest(DeploymentYaml("web", "web:1"));
        try
        {
            await KubectlOkAsync(ns, "apply", "--validate=false", "-f", file);
            Assert.Equal("deployment.apps/web restarted", await KubectlOkAsync(ns, "rollout", "restart", "deployment/web"));
            Assert.Contains("kubectl.kubernetes.io/restartedAt", (await GetDeploymentAsync(ns, "web")).Spec.Template.Metadata!.Annotations!.Keys);

            Assert.Equal("deployment.apps/web paused", await KubectlOkAsync(ns, "rollout", "pause", "deployment/web"));
            Assert.True((await GetDeploymentAsync(ns, "web")).Spec.Paused);
            Assert.Equal("deployment.apps/web resumed", await KubectlOkAsync(ns, "rollout", "resume", "deployment/web"));
            Assert.NotEqual(true, (await GetDeploymentAsync(ns, "web")).Spec.Paused);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task EditSendsAStrategicMergePatchOfTheEditorsChange()
    {
        var ns = await cp.NewNamespaceAsync();
        var file = WriteManifest(DeploymentYaml("web", "web:1"));
        try
        {
            await KubectlOkAsync(ns, "apply", "--validate=false", "-f", file);
            // kubectl runs KUBE_EDITOR through a shell on the file it wrote: sed is the editor.
            var result = await HostCommand.RunAsync("env", ["KUBE_EDITOR=sed -i -e s/web:1$/web:5/", "kubectl", "--kubeconfig", cp.KubeconfigPath, "-n", ns, "edit", "--validate=false", "deployment/web"]);
            Assert.True(result.ExitCode == 0, result.StandardError);
            Assert.Equal("deployment.apps/web edited", result.StandardOutput.Trim());
            Assert.Equal("web:5", (await GetDeploymentAsync(ns, "web")).Spec.Template.Spec.Containers[0].Image);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task CordonAndUncordon()
    {
        var ns = await cp.NewNamespaceAsync();
        var node = $"{ns}-n";
        var nodes = await cp.StartFakeNodesAsync([node]);
        try
        {
            await Eventually.Until(() => Api.TryGetAsync<Node>($"/api/v1/nodes/{node}"), "the node to register");
            Assert.Equal($"node/{node} cordoned", await KubectlOkAsync(null, "cordon", node));
            Assert.True((await Api.GetAsync<Node>($"/api/v1/nodes/{node}")).Spec!.Unschedulable);
            Assert.Equal($"node/{node} uncordoned", await KubectlOkAsync(null, "uncordon", node));
            Assert.NotEqual(true, (await Api.GetAsync<Node>($"/api/v1/nodes/{node}")).Spec!.Unschedulable);
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }

    [Fact]
    public async Task ServerDryRunsStoreNothing()
    {
        var ns = await cp.NewNamespaceAsync();
        var file = WriteManifest(DeploymentYaml("web", "web:1"));
        try
        {
            Assert.Equal("deployment.apps/web created (server dry run)", await KubectlOkAsync(ns, "apply", "--validate=false", "--dry-run=server", "-f", file));
            Assert.Equal("deployment.apps/web created (server dry run)", await KubectlOkAsync(ns, "create", "--validate=false", "--dry-run=server", "-f", file));
            Assert.Null(await Api.TryGetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/web"));

            await KubectlOkAsync(ns, "apply", "--validate=false", "-f", file);
            var before = await GetDeploymentAsync(ns, "web");
            File.WriteAllText(file, DeploymentYaml("web", "web:2"));
            Assert.Equal("deployment.apps/web configured (server dry run)", await KubectlOkAsync(ns, "apply", "--validate=false", "--dry-run=server", "-f", file));
            Assert.Equal("deployment.apps/web scaled (server dry run)", await KubectlOkAsync(ns, "scale", "deployment", "web", "--replicas=5", "--dry-run=server"));
            Assert.Equal("deployment.apps/web labeled (server dry run)", await KubectlOkAsync(ns, "label", "deployment", "web", "x=y", "--dry-run=server"));
            Assert.Equal("deployment.apps \"web\" deleted (server dry run)", await KubectlOkAsync(ns, "delete", "deployment", "web", "--dry-run=server"));

            var after = await GetDeploymentAsync(ns, "web");
            Assert.Equal(before.Metadata.Generation, after.Metadata.Generation);
            Assert.Equal("web:1", after.Spec.Template.Spec.Containers[0].Image);
            Assert.Equal(1, after.Spec.Replicas);
            Assert.False(after.Metadata.Labels!.ContainsKey("x"));
            Assert.Null(after.Metadata.DeletionTimestamp);

            // kubectl diff sends the same patch with dryRun=All and diffs the answer: exit code 1
            // means "differences found".
            var diff = await KubectlAsync(ns, "diff", "-f", file);
            Assert.True(diff.ExitCode == 1, $"kubectl diff exited {diff.ExitCode}: {diff.StandardError}");
            Assert.Contains("-      - image: web:1", diff.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("+      - image: web:2", diff.StandardOutput, StringComparison.Ordinal);
            Assert.Equal("web:1", (await GetDeploymentAsync(ns, "web")).Spec.Template.Spec.Containers[0].Image);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task PatchOfAMissingObjectKeepsKubernetesMessage()
    {
        var ns = await cp.NewNamespaceAsync();
        var result = await KubectlAsync(ns, "patch", "deployment", "nope", "-p", """{"spec":{"replicas":2}}""");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("Error from server (NotFound): deployments.apps \"nope\" not found", result.StandardError.Trim());
    }

    [Fact]
    public async Task ServerSideApplyIsRefusedAsAServerWithoutItIs()
    {
        var ns = await cp.NewNamespaceAsync();
        var file = WriteManifest(DeploymentYaml("web", "web:1"));
        try
        {
            var result = await KubectlAsync(ns, "apply", "--validate=false", "--server-side", "-f", file);
            Assert.Equal(1, result.ExitCode);
            Assert.StartsWith("error: Server-side apply not available on the server:", result.StandardError, StringComparison.Ordinal);
            Assert.Null(await Api.TryGetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/web"));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
