using System.Net;
using Orchestrator.Grains.Apps;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>Rollouts on fake nodes: every step is checked against maxSurge and maxUnavailable.</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class RolloutTests(ControlPlaneFixture cp)
{
    private ApiClient Api => cp.Api;

    private static Deployment WithStrategy(Deployment d, string? surge, string? unavailable, int minReady = 1) => d with
    {
        Spec = d.Spec with
        {
            MinReadySeconds = minReady,
            Strategy = new DeploymentStrategy
            {
                Type = DeploymentStrategyType.RollingUpdate,
                RollingUpdate = new RollingUpdateDeployment
                {
                    MaxSurge = surge is null ? (IntOrString?)null : Parse(surge),
                    MaxUnavailable = unavailable is null ? (IntOrString?)null : Parse(unavailable),
                },
            },
        },
    };

    private static IntOrString Parse(string s) => int.TryParse(s, out var i) ? IntOrString.FromInt(i) : IntOrString.FromString(s);

    private Task SetImageAsync(string ns, string name, string image) =>
        Api.SendAsync(HttpMethod.Patch, $"/apis/apps/v1/namespaces/{ns}/deployments/{name}",
            "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"" + image + "\",\"command\":[\"sleep\",\"3600\"]}]}}}}", "application/merge-patch+json");

    private async Task<Deployment> CompleteAsync(string ns, string name, string image, int replicas) =>
        await Eventually.Until(async () =>
        {
            var d = await Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/{name}");
            var pods = await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods");
            var done = d.Status is { } s && s.ObservedGeneration == d.Metadata.Generation && s.UpdatedReplicas == replicas && s.AvailableReplicas == replicas && s.Replicas == replicas
                && pods.Count == replicas && pods.All(p => p.Spec.Containers[0].Image == image);
            return done ? d : null;
        }, $"deployment {name} to complete on {image}", TimeSpan.FromSeconds(40));

    /// <summary>Active (not terminating) pods and available ones (Ready for minReadySeconds) at a moment.</summary>
    private static (int Active, int Available) Count(IReadOnlyCollection<Pod> pods, DateTimeOffset now, int minReady)
    {
        var active = pods.Where(p => p.Metadata.DeletionTimestamp is null && !p.IsTerminal()).ToList();
        return (active.Count, active.Count(p => p.IsAvailable(minReady, now)));
    }

    [Theory]
    [InlineData(4, "1", "1")]
    [InlineData(4, "25%", "25%")]
    [InlineData(5, "0", "40%")]
    [InlineData(3, "100%", "0")]
    public async Task RollingUpdateStaysWithinSurgeAndUnavailable(int replicas, string surge, string unavailable)
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-a", $"{ns}-b"]);
        try
        {
            var d = WithStrategy(Manifests.Deployment("web", replicas, image: "v1"), surge, unavailable);
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", d);
            await CompleteAsync(ns, "web", "v1", replicas);
            var (maxSurge, maxUnavailable) = DeploymentGrain.ResolveFenceposts(Deployment.ApplyDefaults(d));
            await using var observer = await PodObserver.StartAsync(Api, ns, (pods, now) =>
            {
                // A quarter second of slack: the client sees each change a moment after it happens.
                var (active, _) = Count(pods, now, minReady: 1);
                if (active > replicas + maxSurge)
                {
                    return $"{active} pods exceed replicas + maxSurge = {replicas + maxSurge}";
                }
                var (_, availableNow) = Count(pods, now.AddMilliseconds(250), minReady: 1);
                return availableNow < replicas - maxUnavailable ? $"only {availableNow} available, below replicas - maxUnavailable = {replicas - maxUnavailable}" : null;
            });
            await SetImageAsync(ns, "web", "v2");
            await CompleteAsync(ns, "web", "v2", replicas);
            Assert.True(observer.Events > replicas * 2, $"too few steps observed ({observer.Events})");
            Assert.Empty(observer.Violations);
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }

    [Theory]
    [InlineData(10, "25%", "25%", 3, 2)]
    [InlineData(10, "0", "0", 0, 1)]
    [InlineData(3, "50%", "50%", 2, 1)]
    [InlineData(1, "25%", "25%", 1, 0)]
    [InlineData(4, "2", "100%", 2, 4)]
    public void FencepostsRoundAsKubernetes(int replicas, string surge, string unavailable, int expectedSurge, int expectedUnavailable)
    {
        var d = Deployment.ApplyDefaults(WithStrategy(Manifests.Deployment("x", replicas), surge, unavailable));
        Assert.Equal((expectedSurge, expectedUnavailable), DeploymentGrain.ResolveFenceposts(d));
    }

    [Fact]
    public async Task RecreateStopsEveryOldPodBeforeStartingNewOnes()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-a"]);
        try
        {
            var d = Manifests.Deployment("web", 3, image: "v1");
            d = d with { Spec = d.Spec with { Strategy = new DeploymentStrategy { Type = DeploymentStrategyType.Recreate } } };
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", d);
            await CompleteAsync(ns, "web", "v1", 3);
            await using var observer = await PodObserver.StartAsync(Api, ns, (pods, _) =>
                pods.Any(p => p.Spec.Containers[0].Image == "v1") && pods.Any(p => p.Spec.Containers[0].Image == "v2")
                    ? "old and new pods exist at the same time" : null);
            await SetImageAsync(ns, "web", "v2");
            await CompleteAsync(ns, "web", "v2", 3);
            Assert.Empty(observer.Violations);
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }

    [Fact]
    public async Task HistoryIsPrunedAndAnOldTemplateReusesItsReplicaSet()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-a"]);
        try
        {
            var d = Manifests.Deployment("web", 1, image: "v1");
            d = d with { Spec = d.Spec with { RevisionHistoryLimit = 2 } };
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", d);
            await CompleteAsync(ns, "web", "v1", 1);
            var v1 = Assert.Single(await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets"));
            foreach (var image in new[] { "v2", "v3", "v4", "v5" })
            {
                await SetImageAsync(ns, "web", image);
                await CompleteAsync(ns, "web", image, 1);
            }
            List<ReplicaSet> sets;
            try
            {
                sets = await Eventually.Until(async () => await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets") is { Count: 3 } l ? l : null, "history pruned to 2 old revisions");
            }
            catch (TimeoutException ex)
            {
                var all = await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets");
                var dep = await Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/web");
                throw new TimeoutException(ex.Message + "\n" + string.Join("\n", all.Select(r => $"{r.Metadata.Name} rev={DeploymentGrain.Revision(r)} spec={r.Spec.Replicas} st={r.Status?.Replicas} ann={ResourceJson.SerializeToString(r.Metadata.Annotations)}")) + "\n" + ResourceJson.SerializeToString(dep.Status), ex);
            }
            Assert.Equal([3, 4, 5], sets.Select(DeploymentGrain.Revision).Order().ToArray());

            // Back to v4: its ReplicaSet is reused and becomes revision 6.
            await SetImageAsync(ns, "web", "v4");
            await CompleteAsync(ns, "web", "v4", 1);
            var reused = await Eventually.Until(async () => (await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets"))
                .SingleOrDefault(rs => rs.Spec.Template.Spec.Containers[0].Image == "v4" && DeploymentGrain.Revision(rs) == 6), "v4's replica set at revision 6");
            Assert.Equal(3, (await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets")).Count);
            Assert.Equal("6", (await Api.GetAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments/web")).Metadata.Annotation(WellKnown.RevisionAnnotation));
            Assert.DoesNotContain(await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets"), rs => rs.Metadata.Name == v1.Metadata.Name);
            _ = reused;
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }

    [Fact]
    public async Task PausedDeploymentsRollOutOnResume()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-a"]);
        try
        {
            var path = $"/apis/apps/v1/namespaces/{ns}/deployments/web";
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 2, image: "v1"));
            await CompleteAsync(ns, "web", "v1", 2);
            await Api.SendAsync(HttpMethod.Patch, path, """{"spec":{"paused":true}}""", "application/merge-patch+json");
            await SetImageAsync(ns, "web", "v2");
            await Api.SendAsync(HttpMethod.Patch, path + "/scale", """{"spec":{"replicas":3}}""", "application/merge-patch+json");
            var paused = await Eventually.Until(async () => await Api.GetAsync<Deployment>(path) is { Status.ObservedGeneration: var g } x && g == x.Metadata.Generation
                && Conditions.Get(x.Status!.Conditions, "Progressing")?.Reason == "DeploymentPaused" && x.Status.AvailableReplicas == 3 ? x : null, "the paused deployment to scale without rolling out");
            Assert.Single(await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets"));
            Assert.All(await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods"), p => Assert.Equal("v1", p.Spec.Containers[0].Image));
            Assert.Equal(3, paused.Status!.Replicas);

            await Api.SendAsync(HttpMethod.Patch, path, """{"spec":{"paused":false}}""", "application/merge-patch+json");
            await CompleteAsync(ns, "web", "v2", 3);
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }

    [Fact]
    public async Task UndoRollsBackToThePreviousOrAGivenRevisionAsANewRevision()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-a"]);
        try
        {
            var path = $"/apis/apps/v1/namespaces/{ns}/deployments/web";
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", Manifests.Deployment("web", 1, image: "v1"));
            await CompleteAsync(ns, "web", "v1", 1);
            await SetImageAsync(ns, "web", "v2");
            await CompleteAsync(ns, "web", "v2", 1);
            await SetImageAsync(ns, "web", "v3");
            await CompleteAsync(ns, "web", "v3", 1);

            var undone = await ApiClient.ReadAsync<Deployment>(await Api.PostJsonAsync(path + "/rollback", "{}"), HttpStatusCode.OK);
            Assert.Equal("v2", undone.Spec.Template.Spec.Containers[0].Image);
            await CompleteAsync(ns, "web", "v2", 1);
            Assert.Equal("4", (await Api.GetAsync<Deployment>(path)).Metadata.Annotation(WellKnown.RevisionAnnotation));

            await ApiClient.ReadAsync<Deployment>(await Api.PostJsonAsync(path + "/rollback", """{"rollbackTo":{"revision":1}}"""), HttpStatusCode.OK);
            await CompleteAsync(ns, "web", "v1", 1);
            var missing = await ApiClient.StatusAsync(await Api.PostJsonAsync(path + "/rollback", """{"rollbackTo":{"revision":42}}"""), 400);
            Assert.Contains("no revision 42", missing.Message, StringComparison.Ordinal);
            await Eventually.True(async () => (await Api.ListAsync<Event>($"/api/v1/namespaces/{ns}/events?fieldSelector=reason%3DDeploymentRollback")).Count == 2, "two DeploymentRollback events");
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }

    [Fact]
    public async Task AFailingRolloutRollsBackByItselfAndDoesNotRetryUntilTheTemplateChanges()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-a"]);
        try
        {
            var path = $"/apis/apps/v1/namespaces/{ns}/deployments/web";
            var d = Manifests.Deployment("web", 2, image: "v1");
            d = d with { Metadata = d.Metadata with { Annotations = new Dictionary<string, string> { [WellKnown.RollbackUnavailableSecondsAnnotation] = "2" } } };
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", d);
            await CompleteAsync(ns, "web", "v1", 2);

            // The new template can never run: no node matches its selector.
            await Api.SendAsync(HttpMethod.Patch, path, """{"spec":{"template":{"spec":{"nodeSelector":{"disk":"none-such"}}}}}""", "application/merge-patch+json");
            var rolledBack = await Eventually.Until(async () => await Api.GetAsync<Deployment>(path) is { } x && Conditions.Get(x.Status?.Conditions, "RolledBack") is { Status: "True" } ? x : null,
                "the automatic rollback", TimeSpan.FromSeconds(30));
            var condition = Conditions.Get(rolledBack.Status!.Conditions, "RolledBack")!;
            Assert.Equal("NewPodsFailing", condition.Reason);
            Assert.Contains("to revision 1", condition.Message, StringComparison.Ordinal);
            Assert.Contains("has not become available", condition.Message, StringComparison.Ordinal);
            // The spec is the user's: it still holds the failed template.
            Assert.Equal("none-such", rolledBack.Spec.Template.Spec.NodeSelector!["disk"]);
            // Events are recorded without waiting (as Kubernetes' recorder does): wait for it.
            await Eventually.True(async () => (await Api.ListAsync<Event>($"/api/v1/namespaces/{ns}/events?fieldSelector=reason%3DRolledBack"))
                .Any(e => e.EventType == EventTypes.Warning && e.Message!.Contains("revision 1", StringComparison.Ordinal)), "the RolledBack event");

            // The good revision runs in full again and the failed one is scaled to zero, for good.
            await Eventually.True(async () =>
            {
                var sets = await Api.ListAsync<ReplicaSet>($"/apis/apps/v1/namespaces/{ns}/replicasets");
                var pods = await Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods");
                return sets.Single(rs => DeploymentGrain.Revision(rs) == 1) is { Spec.Replicas: 2, Status.AvailableReplicas: 2 }
                    && sets.Single(rs => DeploymentGrain.Revision(rs) == 2).Spec.Replicas == 0
                    && pods.Count == 2 && pods.All(p => p.Spec.NodeSelector is null);
            }, "revision 1 to run in full");

            // A template change ends the rollback and starts a normal rollout.
            await Api.SendAsync(HttpMethod.Patch, path, """{"spec":{"template":{"spec":{"nodeSelector":null,"containers":[{"name":"main","image":"v2","command":["sleep","3600"]}]}}}}""", "application/merge-patch+json");
            var done = await CompleteAsync(ns, "web", "v2", 2);
            Assert.Null(Conditions.Get(done.Status!.Conditions, "RolledBack"));
            Assert.Null(done.Metadata.Annotation(WellKnown.RolledBackTemplateAnnotation));
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }

    [Fact]
    public async Task AMissedProgressDeadlineRollsBack()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-a"]);
        try
        {
            var path = $"/apis/apps/v1/namespaces/{ns}/deployments/web";
            var d = Manifests.Deployment("web", 1, image: "v1");
            d = d with { Spec = d.Spec with { ProgressDeadlineSeconds = 2 } };
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", d);
            await CompleteAsync(ns, "web", "v1", 1);
            await Api.SendAsync(HttpMethod.Patch, path, """{"spec":{"template":{"spec":{"nodeSelector":{"disk":"none-such"}}}}}""", "application/merge-patch+json");
            var rolledBack = await Eventually.Until(async () => await Api.GetAsync<Deployment>(path) is { } x && Conditions.Get(x.Status?.Conditions, "RolledBack") is { Status: "True" } ? x : null,
                "the automatic rollback", TimeSpan.FromSeconds(30));
            Assert.Equal("ProgressDeadlineExceeded", Conditions.Get(rolledBack.Status!.Conditions, "RolledBack")!.Reason);
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }

    [Fact]
    public async Task AutomaticRollbackCanBeTurnedOff()
    {
        var ns = await cp.NewNamespaceAsync();
        var nodes = await cp.StartFakeNodesAsync([$"{ns}-a"]);
        try
        {
            var path = $"/apis/apps/v1/namespaces/{ns}/deployments/web";
            var d = Manifests.Deployment("web", 1, image: "v1");
            d = d with
            {
                Metadata = d.Metadata with { Annotations = new Dictionary<string, string> { [WellKnown.AutoRollbackAnnotation] = "false" } },
                Spec = d.Spec with { ProgressDeadlineSeconds = 2 },
            };
            await Api.CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments", d);
            await CompleteAsync(ns, "web", "v1", 1);
            await Api.SendAsync(HttpMethod.Patch, path, """{"spec":{"template":{"spec":{"nodeSelector":{"disk":"none-such"}}}}}""", "application/merge-patch+json");
            var stuck = await Eventually.Until(async () => await Api.GetAsync<Deployment>(path) is { } x && Conditions.Get(x.Status?.Conditions, "Progressing") is { Reason: "ProgressDeadlineExceeded" } ? x : null,
                "the deadline to pass", TimeSpan.FromSeconds(30));
            Assert.Null(Conditions.Get(stuck.Status!.Conditions, "RolledBack"));
            Assert.Equal("False", Conditions.Get(stuck.Status.Conditions, "Progressing")!.Status);
        }
        finally
        {
            await cp.StopFakeNodesAsync(nodes);
        }
    }
}
