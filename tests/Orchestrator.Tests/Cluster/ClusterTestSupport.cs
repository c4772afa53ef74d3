using System.Net;
using System.Text.Json;
using Orchestrator.Model;
using Orchestrator.NodeAgent;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Logging;
using Orchestrator.Tests.Infrastructure.Processes;
using Xunit.Abstractions;

namespace Orchestrator.Tests.Cluster;

/// <summary>What the cluster tests share: failure diagnostics, fake nodes over the test's
/// Orleans client, and API calls that ride out a failover.</summary>
internal static class ClusterTestSupport
{
    /// <summary>Deadline for conditions that span a failover or a store restart.</summary>
    public static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    /// <summary>Runs a test body; on failure, writes the tail of every silo's log to the test output.</summary>
    public static async Task RunAsync(LocalCluster cluster, ITestOutputHelper output, Func<Task> body)
    {
        try
        {
            await body();
        }
        catch
        {
            output.WriteLine(cluster.Logs(60));
            throw;
        }
    }

    public static ApiClient Api(SiloProcess silo) => new(silo.Http);

    /// <summary>Fake nodes (hollow node agents with the fake runtime) in this process, talking to
    /// the control plane through the test's Orleans client, as node agent processes would.</summary>
    public static async Task<NodeAgentGroup> StartFakeNodesAsync(LocalCluster cluster, IEnumerable<string> names)
    {
        var client = await cluster.ClientAsync();
        var options = new NodeAgentOptions
        {
            Runtime = "fake",
            Cpu = "8",
            Memory = "16Gi",
            NodeIP = "127.0.0.1",
            ResyncInterval = TimeSpan.FromSeconds(5),
        };
        var group = new NodeAgentGroup(names.ToList(), options, client, _ => new FakeRuntime(TimeProvider.System), TimeProvider.System, TestLoggerProvider.Logger("agents"));
        try
        {
            await group.StartAsync(CancellationToken.None);
        }
        catch
        {
            await group.DisposeAsync();
            throw;
        }
        return group;
    }

    /// <summary>
    /// Creates an object, retrying while the control plane answers 503 (settling, or the store
    /// down). A 409 AlreadyExists after a 503 means an earlier attempt was applied after all,
    /// so the stored object is returned.
    /// </summary>
    public static Task<T> CreateEventuallyAsync<T>(ApiClient api, string collectionPath, T obj, TimeSpan? timeout = null) where T : class, IResource<T> =>
        Eventually.Until(async () =>
        {
            using var response = await api.SendAsync(HttpMethod.Post, collectionPath, ResourceJson.SerializeToString(obj));
            if (response.StatusCode == HttpStatusCode.Created)
            {
                return await ApiClient.ReadAsync<T>(response, HttpStatusCode.Created);
            }
            if (response.StatusCode == HttpStatusCode.Conflict)
            {
                return await api.GetAsync<T>($"{collectionPath}/{obj.Metadata.Name}");
            }
            var text = await response.Content.ReadAsStringAsync();
            throw new HttpRequestException($"POST {collectionPath}: {(int)response.StatusCode} {text}");
        }, $"{T.Type.Kind} {obj.Metadata.Name} to be created", timeout ?? Slow);

    /// <summary>Lists a collection, retrying while the control plane answers 503.</summary>
    public static Task<List<T>> ListEventuallyAsync<T>(ApiClient api, string path) where T : class =>
        Eventually.Until<List<T>>(async () => await api.ListAsync<T>(path), $"a list of {path}", Slow);

    /// <summary>Waits until every listed deployment has all its replicas available; a timeout
    /// names the deployments that were not.</summary>
    public static Task WaitAvailableAsync(ApiClient api, string ns, TimeSpan? timeout = null) =>
        Eventually.Until<object>(async () =>
        {
            var deployments = await api.ListAsync<Deployment>($"/apis/apps/v1/namespaces/{ns}/deployments");
            var waiting = deployments
                .Where(d => d.Status?.AvailableReplicas != d.Spec.Replicas || d.Status?.ObservedGeneration != d.Metadata.Generation)
                .Select(d => $"{d.Metadata.Name} (replicas {d.Spec.Replicas}, available {d.Status?.AvailableReplicas}, observed generation {d.Status?.ObservedGeneration}/{d.Metadata.Generation})")
                .ToList();
            return waiting.Count == 0 ? new object() : throw new InvalidOperationException("not available yet: " + string.Join(", ", waiting));
        }, $"every deployment in {ns} to be available", timeout ?? Slow);

    public static Service ClusterIpService(string name) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new ServiceSpec
        {
            Selector = new Dictionary<string, string> { ["app"] = name },
            Ports = [new ServicePort { Port = 80 }],
        },
    };

    public static string Json<T>(T value) => JsonSerializer.Serialize(value, ResourceJson.Lenient);
}
