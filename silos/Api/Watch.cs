using System.Globalization;
using System.Text.Json;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.Silo.Api;

/// <summary>
/// A watch as Kubernetes streams it: one JSON object per line, {"type":"ADDED","object":{...}}.
/// Without a resourceVersion (or with "0") it starts with the current objects as ADDED events;
/// with one it resumes after it, or ends with an ERROR event carrying a 410 Status when that
/// version is too old. Served from this silo's cache, which wakes the watch on a matching change.
/// </summary>
public static class Watch<T> where T : class, IResource<T>
{
    /// <summary>How long the watch waits for a change before it flushes (and, when the client
    /// allows them, sends a bookmark with the kind's latest version).</summary>
    private static readonly TimeSpan PollWait = TimeSpan.FromSeconds(5);

    /// <summary>Kubernetes ends watches after a random 30-60 minutes; we end them after 30.</summary>
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(30);

    public static async Task StreamAsync(HttpContext http, Grains.Index.ResourceCache<T> index, ResourceQuery query)
    {
        var q = http.Request.Query;
        var bookmarks = KindApi<T>.IsTrue(q["allowWatchBookmarks"]);
        var timeout = q.TryGetValue("timeoutSeconds", out var t)
            ? TimeSpan.FromSeconds(int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : throw ApiErrors.BadRequest($"timeoutSeconds \"{t}\" is not a non-negative integer"))
            : DefaultTimeout;
        long from = 0;
        var rvText = q["resourceVersion"].ToString();
        var sendInitial = rvText is "" or "0";
        if (!sendInitial && !long.TryParse(rvText, NumberStyles.None, CultureInfo.InvariantCulture, out from))
        {
            throw ApiErrors.BadRequest($"resourceVersion \"{rvText}\" is not a valid resource version");
        }

        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.Headers.CacheControl = "no-cache, private";
        var aborted = http.RequestAborted;
        var deadline = DateTimeOffset.UtcNow + timeout;

        if (sendInitial)
        {
            var list = await index.ListAsync(query, ListOptions.Default);
            foreach (var item in list.Items)
            {
                await WriteEventAsync(response, "ADDED", item, aborted);
            }
            from = list.ResourceVersion;
        }
        await response.Body.FlushAsync(aborted);

        while (!aborted.IsCancellationRequested)
        {
            var remaining = deadline - DateTimeOffset.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }
            var batch = await index.WatchAsync(query, from, remaining < PollWait ? remaining : PollWait);
            if (batch.TooOld)
            {
                var status = ApiErrors.Gone($"too old resource version: {from} ({batch.OldestVersion})").Status;
                await WriteEventAsync(response, "ERROR", status, aborted);
                return;
            }
            foreach (var ev in batch.Events)
            {
                await WriteEventAsync(response, ev.Type switch
                {
                    WatchEventType.Added => "ADDED",
                    WatchEventType.Modified => "MODIFIED",
                    _ => "DELETED",
                }, ev.Object, aborted);
            }
            if (batch.Events.Count == 0 && bookmarks && batch.ResourceVersion > from)
            {
                await WriteEventAsync(response, "BOOKMARK", new Bookmark(T.Type.Kind, T.Type.ApiVersion, new ObjectMeta { ResourceVersion = batch.ResourceVersion.ToString(CultureInfo.InvariantCulture) }), aborted);
            }
            from = batch.ResourceVersion;
            await response.Body.FlushAsync(aborted);
        }
    }

    private sealed record Bookmark(string Kind, string ApiVersion, ObjectMeta Metadata);

    private static async Task WriteEventAsync<TObject>(HttpResponse response, string type, TObject obj, CancellationToken cancellationToken)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = ResourceJson.Strict.Encoder }))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            writer.WritePropertyName("object");
            JsonSerializer.Serialize(writer, obj, ResourceJson.Strict);
            writer.WriteEndObject();
        }
        "\n"u8.CopyTo(buffer.GetSpan(1));
        buffer.Advance(1);
        await response.Body.WriteAsync(buffer.WrittenMemory, cancellationToken);
    }
}
