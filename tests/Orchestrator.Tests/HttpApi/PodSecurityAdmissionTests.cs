using System.Net;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.HttpApi;

/// <summary>Pod Security admission through the API: enforce refuses (403, nothing stored),
/// warn and workload templates warn in the Warning header, namespace labels are validated.</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class PodSecurityAdmissionTests(ControlPlaneFixture cp)
{
    private ApiClient Api => cp.Api;

    private static Pod PrivilegedPod => new()
    {
        Metadata = new ObjectMeta { Name = "x" },
        Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "busybox", SecurityContext = new SecurityContext { Privileged = true } }] },
    };

    private static Dictionary<string, string> Labels(params (string Key, string Value)[] labels) => labels.ToDictionary(l => l.Key, l => l.Value);

    [Fact]
    public async Task ABaselineNamespaceRefusesAPrivilegedPodAndStoresNothing()
    {
        var ns = await cp.NewNamespaceAsync();
        var status = await ApiClient.StatusAsync(await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods", ResourceJson.SerializeToString(PrivilegedPod)), 403);
        Assert.Equal(StatusReason.Forbidden, status.Reason);
        Assert.Equal("pods \"x\" is forbidden: violates PodSecurity \"baseline:latest\": privileged (container \"c\" must not set securityContext.privileged=true)", status.Message);
        Assert.Empty(await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods"));
    }

    [Fact]
    public async Task APrivilegedNamespaceAcceptsItAndWarnsAtItsWarnLevel()
    {
        var ns = await cp.NewNamespaceAsync(labels: Labels((PodSecurityLabels.Enforce, "privileged"), (PodSecurityLabels.Warn, "baseline"), (PodSecurityLabels.Warn + "-version", "v1.30")));
        var response = await Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods", ResourceJson.SerializeToString(PrivilegedPod));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var warning = Assert.Single(response.Headers.GetValues("Warning"));
        Assert.Equal("299 - \"would violate PodSecurity \\\"baseline:v1.30\\\": privileged (container \\\"c\\\" must not set securityContext.privileged=true)\"", warning);
    }

    [Fact]
    public async Task AWorkloadTemplateIsStoredWithAWarningAtTheEnforceLevel()
    {
        var ns = await cp.NewNamespaceAsync();
        var labels = new Dictionary<string, string> { ["app"] = "web" };
        var deployment = new Deployment
        {
            Metadata = new ObjectMeta { Name = "web" },
            Spec = new DeploymentSpec
            {
                Replicas = 0,
                Selector = new LabelSelector { MatchLabels = labels },
                Template = new PodTemplateSpec { Metadata = new ObjectMeta { Labels = labels }, Spec = PrivilegedPod.Spec },
            },
        };
        var response = await Api.PostJsonAsync($"/apis/apps/v1/namespaces/{ns}/deployments", ResourceJson.SerializeToString(deployment));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Contains("would violate PodSecurity \\\"baseline:latest\\\": privileged", Assert.Single(response.Headers.GetValues("Warning")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnInvalidLevelLabelIs422NamingTheLabel()
    {
        var ns = new Namespace { Metadata = new ObjectMeta { Name = $"t-{Guid.NewGuid().ToString("N")[..8]}", Labels = Labels((PodSecurityLabels.Enforce, "strict")) } };
        var status = await ApiClient.StatusAsync(await Api.PostJsonAsync("/api/v1/namespaces", ResourceJson.SerializeToString(ns)), 422);
        var cause = Assert.Single(status.Details!.Causes!);
        Assert.Equal("metadata.labels[pod-security.kubernetes.io/enforce]", cause.Field);
        Assert.Contains("must be one of privileged, baseline, restricted", cause.Message, StringComparison.Ordinal);
    }
}
