using System.Net;
using System.Runtime.Versioning;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Containerd;

/// <summary>Helpers the containerd tests share: pods pinned to the fixture's node, waits that
/// show the pod and the agent's log when they time out, and namespace clean-up.</summary>
[SupportedOSPlatform("linux")]
public abstract class ContainerdTestBase(ContainerdFixture fixture) : IAsyncLifetime
{
    private readonly List<string> _namespaces = [];

    protected ContainerdFixture Fixture => fixture;

    protected ApiClient Api => fixture.Api;

    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Deletes the test's namespaces and waits until their pods are gone, so every test
    /// leaves the node as it found it.</summary>
    public virtual async Task DisposeAsync()
    {
        foreach (var ns in _namespaces)
        {
            await Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}");
        }
        foreach (var ns in _namespaces)
        {
            await Eventually.True(async () => (await Api.Http.GetAsync($"/api/v1/namespaces/{ns}")).StatusCode == HttpStatusCode.NotFound,
                $"namespace {ns} deleted", TimeSpan.FromSeconds(60));
        }
    }

    protected async Task<string> NewNamespaceAsync(bool privileged = false)
    {
        var ns = await fixture.ControlPlane.NewNamespaceAsync("ctd",
            privileged ? new Dictionary<string, string> { ["pod-security.kubernetes.io/enforce"] = "privileged" } : null);
        _namespaces.Add(ns);
        return ns;
    }

    public static Container Busybox(string name, params string[] command) => new()
    {
        Name = name,
        Image = ContainerdFixture.Image,
        Command = command,
    };

    protected Pod PodOf(string name, params Container[] containers) => PodOn(fixture.NodeName, name, containers);

    public static Pod PodOn(string node, string name, params Container[] containers) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = ContainerdFixture.OnNode(new PodSpec
        {
            Containers = containers,
            // busybox as PID 1 ignores SIGTERM: keep deletions short.
            TerminationGracePeriodSeconds = 1,
        }, node),
    };

    protected Task<Pod> CreatePodAsync(string ns, Pod pod) => Api.CreateAsync($"/api/v1/namespaces/{ns}/pods", pod);

    protected async Task<Pod> WaitPodAsync(string ns, string name, Func<Pod, bool> condition, string what, int seconds = 30)
    {
        Pod? last = null;
        try
        {
            return await Eventually.Until(async () =>
            {
                last = await Api.TryGetAsync<Pod>($"/api/v1/namespaces/{ns}/pods/{name}");
                return last is not null && condition(last) ? last : null;
            }, $"pod {ns}/{name}: {what}", TimeSpan.FromSeconds(seconds));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\npod status: {(last is null ? "none" : ResourceJson.SerializeToString(last.Status))}\nagent log:\n{fixture.Log.Tail()}", ex);
        }
    }

    protected async Task WaitPodGoneAsync(string ns, string name, int seconds = 30)
    {
        try
        {
            await Eventually.True(async () => (await Api.Http.GetAsync($"/api/v1/namespaces/{ns}/pods/{name}")).StatusCode == HttpStatusCode.NotFound,
                $"pod {ns}/{name} gone", TimeSpan.FromSeconds(seconds));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\nagent log:\n{fixture.Log.Tail()}", ex);
        }
    }

    protected static ContainerStatus? StatusOf(Pod pod, string container) =>
        pod.Status?.ContainerStatuses?.FirstOrDefault(c => c.Name == container);

    protected static bool IsRunning(Pod pod, string container) => StatusOf(pod, container)?.State?.Running is not null;

    protected static bool IsReady(Pod pod) => pod.IsReady();

    /// <summary>The runtime's id of a container from its status ("containerd://ID").</summary>
    protected static string ContainerId(Pod pod, string container) =>
        StatusOf(pod, container)?.ContainerID?.Split("://")[^1] ?? throw new InvalidOperationException($"container {container} has no id yet");

    protected Task<string> LogAsync(string ns, string pod, string query = "") =>
        Api.Http.GetStringAsync($"/api/v1/namespaces/{ns}/pods/{pod}/log{(query.Length > 0 ? "?" + query : "")}");
}
