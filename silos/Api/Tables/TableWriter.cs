using System.Text.Json;
using Orchestrator.Grains.Kinds.Printing;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.Silo.Api.Tables;

/// <summary>
/// Writes Kubernetes' meta.k8s.io Table: the kind's column definitions and one row per object,
/// each with its cells and (per includeObject) its metadata or the whole object, so kubectl
/// prints the same columns as against Kubernetes. Ages are computed when each table is written,
/// so the events of a long watch show the age at the time of the change.
/// </summary>
public sealed class TableWriter<T>(TableRequest request, IReadOnlyList<PrinterColumn<T>> columns, TimeProvider clock) where T : class, IResource<T>
{
    /// <summary>The negotiated media type, as Kubernetes labels a Table response.</summary>
    public string ContentType => $"application/json;as=Table;v={request.ApiVersion[(TableRequest.Group.Length + 1)..]};g={TableRequest.Group}";

    /// <summary>Writes a Table of <paramref name="objects"/>; watch events after the first leave the
    /// column definitions out, as Kubernetes does (kubectl reuses the ones it has).</summary>
    public void Write(Utf8JsonWriter writer, IEnumerable<T> objects, bool withColumns = true, long? resourceVersion = null, string? continueToken = null, long? remainingItemCount = null)
    {
        writer.WriteStartObject();
        writer.WriteString("kind", "Table");
        writer.WriteString("apiVersion", request.ApiVersion);
        writer.WriteStartObject("metadata");
        if (resourceVersion is { } rv)
        {
            writer.WriteString("resourceVersion", rv.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (continueToken is not null)
        {
            writer.WriteString("continue", continueToken);
        }
        if (remainingItemCount is { } remaining)
        {
            writer.WriteNumber("remainingItemCount", remaining);
        }
        writer.WriteEndObject();
        if (withColumns)
        {
            WriteColumns(writer);
        }
        writer.WriteStartArray("rows");
        var now = clock.GetUtcNow();
        foreach (var obj in objects)
        {
            WriteRow(writer, obj, now);
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    public byte[] ToBytes(IEnumerable<T> objects, bool withColumns)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = ResourceJson.Strict.Encoder }))
        {
            Write(writer, objects, withColumns);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private void WriteColumns(Utf8JsonWriter writer)
    {
        writer.WriteStartArray("columnDefinitions");
        foreach (var column in columns)
        {
            writer.WriteStartObject();
            writer.WriteString("name", column.Name);
            writer.WriteString("type", column.Type);
            writer.WriteString("format", column.Format);
            writer.WriteString("description", column.Description);
            writer.WriteNumber("priority", column.Priority);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    private void WriteRow(Utf8JsonWriter writer, T obj, DateTimeOffset now)
    {
        writer.WriteStartObject();
        writer.WriteStartArray("cells");
        foreach (var column in columns)
        {
            switch (column.Cell(obj, now))
            {
                case null:
                    writer.WriteNullValue();
                    break;
                case long number:
                    writer.WriteNumberValue(number);
                    break;
                case int number:
                    writer.WriteNumberValue(number);
                    break;
                case var value:
                    writer.WriteStringValue(value.ToString());
                    break;
            }
        }
        writer.WriteEndArray();
        switch (request.Include)
        {
            case IncludeObject.Metadata:
                writer.WriteStartObject("object");
                writer.WriteString("kind", "PartialObjectMetadata");
                writer.WriteString("apiVersion", "meta.k8s.io/v1");
                writer.WritePropertyName("metadata");
                JsonSerializer.Serialize(writer, obj.Metadata, ResourceJson.Strict);
                writer.WriteEndObject();
                break;
            case IncludeObject.Object:
                writer.WritePropertyName("object");
                JsonSerializer.Serialize(writer, obj, ResourceJson.Strict);
                break;
        }
        writer.WriteEndObject();
    }
}

/// <summary>A Table response of a get or a list.</summary>
public sealed class TableBody<T>(TableWriter<T> table, IReadOnlyList<T> objects, long? resourceVersion = null, string? continueToken = null, long? remainingItemCount = null) : IResult
    where T : class, IResource<T>
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = StatusCodes.Status200OK;
        httpContext.Response.ContentType = table.ContentType;
        await using var writer = new Utf8JsonWriter(httpContext.Response.BodyWriter, new JsonWriterOptions { Encoder = ResourceJson.Strict.Encoder });
        table.Write(writer, objects, resourceVersion: resourceVersion, continueToken: continueToken, remainingItemCount: remainingItemCount);
        await writer.FlushAsync(httpContext.RequestAborted);
    }
}
