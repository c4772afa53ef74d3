using System.Globalization;
using System.Text;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeProtocol;

namespace Orchestrator.Silo.Api;

/// <summary>
/// GET /api/v1/namespaces/{ns}/pods/{name}/log with container, tailLines, previous, limitBytes
/// and follow, as Kubernetes serves it: plain text, read from the pod's node through its agent.
/// A follow keeps reading until the container stops or the client goes away.
/// </summary>
public static class LogApi
{
    private static readonly TimeSpan FollowPoll = TimeSpan.FromMilliseconds(250);

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapGet("/api/v1/namespaces/{namespace}/pods/{name}/log", async (HttpContext http, IGrainFactory grains, string @namespace, string name) =>
        {
            var q = http.Request.Query;
            var pod = await KindApi<Pod>.LoadAsync(grains, @namespace, name);
            var containers = pod.Spec.Containers.Select(c => c.Name).ToList();
            var container = q["container"].ToString();
            if (container.Length == 0)
            {
                container = containers.Count == 1
                    ? containers[0]
                    : throw ApiErrors.BadRequest($"a container name must be specified for pod {name}, choose one of: [{string.Join(" ", containers)}]");
            }
            else if (!containers.Contains(container))
            {
                throw ApiErrors.BadRequest($"container {container} is not valid for pod {name}");
            }
            if (pod.Spec.NodeName is not { Length: > 0 } nodeName)
            {
                throw ApiErrors.BadRequest($"pod {name} is not scheduled to a node yet; it has no logs");
            }
            var tail = ParseOptionalInt(q["tailLines"], "tailLines");
            var limit = ParseOptionalInt(q["limitBytes"], "limitBytes");
            var follow = KindApi<Pod>.IsTrue(q["follow"]);
            var request = new LogRequest
            {
                PodUid = pod.Metadata.Uid!,
                Container = container,
                Previous = KindApi<Pod>.IsTrue(q["previous"]),
                TailLines = tail,
                MaxBytes = limit is { } l && l < 1024 * 1024 ? l : 1024 * 1024,
            };
            var node = grains.GetGrain<INodeLeaseGrain>(nodeName);
            var chunk = await node.ReadLogAsync(request);
            if (!chunk.Found)
            {
                throw ApiErrors.BadRequest($"container \"{container}\" in pod \"{name}\" is waiting to start: no log yet");
            }
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = "text/plain; charset=utf-8";
            long written = 0;
            var aborted = http.RequestAborted;
            while (true)
            {
                var bytes = Encoding.UTF8.GetBytes(chunk.Text);
                if (limit is { } max && written + bytes.Length > max)
                {
                    bytes = bytes[..(int)(max - written)];
                }
                await http.Response.Body.WriteAsync(bytes, aborted);
                written += bytes.Length;
                await http.Response.Body.FlushAsync(aborted);
                if (!follow || !chunk.Running || (limit is { } m && written >= m) || aborted.IsCancellationRequested)
                {
                    return Results.Empty;
                }
                var offset = chunk.NextOffset;
                do
                {
                    await Task.Delay(FollowPoll, aborted);
                    chunk = await node.ReadLogAsync(request with { Offset = offset, TailLines = null });
                }
                while (chunk.Text.Length == 0 && chunk.Running && !aborted.IsCancellationRequested);
            }
        });

    private static int? ParseOptionalInt(string? value, string name) => string.IsNullOrEmpty(value)
        ? null
        : int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw ApiErrors.BadRequest($"{name} \"{value}\" is not a non-negative integer");
}
