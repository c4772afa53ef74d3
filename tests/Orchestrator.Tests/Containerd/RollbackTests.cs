using System.Runtime.Versioning;
using Orchestrator.Grains.Apps;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Containerd;

/// <summary>Automatic rollback with real containers: a version whose container exits at once.</summary>
[Collection(ContainerdCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class RollbackTests(ContainerdFixture fixture) : ContainerdTestBase(fixture)
{
    [Fact]
    public async Task ACrashLoopingVersionRollsBackToTheWorkingOne()
    {
        var ns = await NewNamespaceAsync();
        var path = $"/apis/apps/v1/namespaces/{ns}/deployments/web";
        var good = Busybox("web", "httpd", "-f", "-p", "8080", "-h", "/var/www") with
        {
            ReadinessProbe = new Probe { HttpGet = new HttpGetAction { Path = "/", Port = 8080 }, PeriodSeconds = 1 },
        };
        var deployment = Manifests.Deployment("web", 2, PodOf("x", good).Spec);
        deployment = deployment with
        {
            Metadata = deployment.Metadata with { Annotations = new Dictionary<string, string> { [WellKnown.RollbackMaxRestartsAnnotation] = "2" } },
        };
        await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", deployment);
        await Eventually.True(async () => (await Api.GetAsync<Deployment>(path)).Status?.AvailableReplicas == 2, "2 available replicas", TimeSpan.FromSeconds(60));

        // The new version's container exits at once.
        var bad = good with { Command = ["sh", "-c", "echo starting; exit 3"], ReadinessProbe = null };
        var current = await Api.GetAsync<Deployment>(path);
        // Without a resourceVersion: the controller may write the status between the GET and this.
        var updated = current with
        {
            Metadata = current.Metadata with { ResourceVersion = null },
            Spec = current.Spec with { Template = current.Spec.Template with { Spec = current.Spec.Template.Spec with { Containers = [bad] } } },
        };
        Assert.True((await Api.SendAsync(HttpMethod.Put, path, Serialization.ResourceJson.SerializeToString(updated))).IsSuccessStatusCode);

        Deployment rolledBack;
        try
        {
            rolledBack = await Eventually.Until(async () =>
            {
                var d = await Api.GetAsync<Deployment>(path);
                return Conditions.Get(d.Status?.Conditions, "RolledBack") is { Status: "True" } ? d : null;
            }, "the automatic rollback", TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException ex)
        {
            var d = await Api.GetAsync<Deployment>(path);
            var pods = await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods");
            var sets = await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets");
            throw new TimeoutException(ex.Message + "\n" + Serialization.ResourceJson.SerializeToString(d.Metadata.Annotations) + Serialization.ResourceJson.SerializeToString(d.Status)
                + "\nRS: " + string.Join("; ", sets.Select(r => $"{r.Metadata.Name} rev={DeploymentGrain.Revision(r)} spec={r.Spec.Replicas} {Serialization.ResourceJson.SerializeToString(r.Status)} ann={Serialization.ResourceJson.SerializeToString(r.Metadata.Annotations)}"))
                + "\nPods: " + string.Join("; ", pods.Select(p => $"{p.Metadata.Name} {p.Status?.Phase} restarts={p.Status?.ContainerStatuses?.FirstOrDefault()?.RestartCount} {p.Status?.ContainerStatuses?.FirstOrDefault()?.State?.Waiting?.Reason}")), ex);
        }
        var condition = Conditions.Get(rolledBack.Status!.Conditions, "RolledBack")!;
        Assert.Equal("NewPodsFailing", condition.Reason);
        Assert.Contains("restarted", condition.Message, StringComparison.Ordinal);
        Assert.Contains("exit code 3", condition.Message, StringComparison.Ordinal);
        await Eventually.True(async () => (await Api.ListAsync<Event>($"/api/v1/namespaces/{ns}/events?fieldSelector=reason%3DRolledBack"))
            .Any(e => e.Message!.Contains("to revision 1", StringComparison.Ordinal)), "the RolledBack event");

        // The working version serves again in full; the failed one runs nowhere.
        await Eventually.True(async () =>
        {
            var sets = await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets");
            var pods = await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods");
            return sets.Single(rs => DeploymentGrain.Revision(rs) == 1).Status?.AvailableReplicas == 2
                && sets.Single(rs => DeploymentGrain.Revision(rs) == 2).Spec.Replicas == 0
                && pods.Count == 2 && pods.All(p => p.IsReady());
        }, "revision 1 back in full", TimeSpan.FromSeconds(60));
    }
}
