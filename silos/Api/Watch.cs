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

    /// <summary>How long a watch lets changes gather after sending some (adds at most this much
    /// delay to an event).</summary>
    private static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(25);

    /// <summary>Kubernetes ends watches after a random 30-60 minutes; we end them after 30.</summary>
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(30);

    /// <summary>Streams the watch; with <paramref name="table"/>, each event's object is a Table
    /// of that one object (what kubectl get -w asks for), the first with the column definitions.</summary>
    public static async Task StreamAsync(HttpContext http, Grains.Index.ResourceCache<T> index, ResourceQuery query, Tables.TableWriter<T>? table = null)
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
        var columnsSent = false;
        byte[] Encode(T obj)
        {
            if (table is null)
            {
                return RecentlySerialized.BytesOf(obj);
            }
            var bytes = table.ToBytes([obj], withColumns: !columnsSent);
            columnsSent = true;
            return bytes;
        }

        if (sendInitial)
        {
            var list = await index.ListAsync(query, ListOptions.Default);
            var initial = new System.Buffers.ArrayBufferWriter<byte>(64 * 1024);
            foreach (var item in list.Items)
            {
                AppendEvent(initial, "ADDED"u8, Encode(item));
                if (initial.WrittenCount > 256 * 1024)
                {
                    await response.Body.WriteAsync(initial.WrittenMemory, aborted);
                    initial.ResetWrittenCount();
                }
            }
            await response.Body.WriteAsync(initial.WrittenMemory, aborted);
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
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(Math.Max(256, batch.Events.Count * 2048));
            foreach (var ev in batch.Events)
            {
                AppendEvent(buffer, ev.Type switch
                {
                    WatchEventType.Added => "ADDED"u8,
                    WatchEventType.Modified => "MODIFIED"u8,
                    _ => "DELETED"u8,
                }, Encode(ev.Object));
            }
            if (batch.Events.Count == 0 && bookmarks && batch.ResourceVersion > from)
            {
                var bookmark = new Bookmark(T.Type.Kind, T.Type.ApiVersion, new ObjectMeta { ResourceVersion = batch.ResourceVersion.ToString(CultureInfo.InvariantCulture) });
                AppendEvent(buffer, "BOOKMARK"u8, JsonSerializer.SerializeToUtf8Bytes(bookmark, ResourceJson.Strict));
            }
            if (buffer.WrittenCount > 0)
            {
                await response.Body.WriteAsync(buffer.WrittenMemory, aborted);
            }
            from = batch.ResourceVersion;
            await response.Body.FlushAsync(aborted);
            if (batch.Events.Count > 0)
            {
                // Let changes gather for a moment before the next read: a hundred watchers each
                // woken by every single change would take the cache's lock and the socket a
                // hundred times per change; this way each takes them once per burst.
                await Task.Delay(BatchWindow, aborted);
            }
        }
    }

    private sealed record Bookmark(string Kind, string ApiVersion, ObjectMeta Metadata);

    /// <summary>{"type":"...","object":...}\n with the object already serialized.</summary>
    private static void AppendEvent(System.Buffers.ArrayBufferWriter<byte> buffer, ReadOnlySpan<byte> type, ReadOnlySpan<byte> obj)
    {
        "{\"type\":\""u8.CopyTo(buffer.GetSpan(9));
        buffer.Advance(9);
        type.CopyTo(buffer.GetSpan(type.Length));
        buffer.Advance(type.Length);
        "\",\"object\":"u8.CopyTo(buffer.GetSpan(11));
        buffer.Advance(11);
        obj.CopyTo(buffer.GetSpan(obj.Length));
        buffer.Advance(obj.Length);
        "}\n"u8.CopyTo(buffer.GetSpan(2));
        buffer.Advance(2);
    }

    /// <summary>
    /// The JSON of the objects of recent changes, serialized once for every watcher that streams
    /// them (as Kubernetes' watch cache keeps an event's serialized form): the events a hundred
    /// watchers send are the same change objects from this silo's cache. Bounded: the last
    /// <see cref="Capacity"/> objects, by reference.
    /// </summary>
    private static class RecentlySerialized
    {
        private const int Capacity = 16384;
        private static readonly Dictionary<T, byte[]> Bytes = new(ReferenceEqualityComparer.Instance);
        private static readonly Queue<T> Order = new();
        private static readonly Lock Gate = new();

        public static byte[] BytesOf(T obj)
        {
            lock (Gate)
            {
                if (Bytes.TryGetValue(obj, out var cached))
                {
                    return cached;
                }
            }
            var bytes = JsonSerializer.SerializeToUtf8Bytes(obj, ResourceJson.Strict);
            lock (Gate)
            {
                if (Bytes.TryAdd(obj, bytes))
                {
                    Order.Enqueue(obj);
                    if (Order.Count > Capacity)
                    {
                        Bytes.Remove(Order.Dequeue());
                    }
                }
            }
            return bytes;
        }
    }

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
