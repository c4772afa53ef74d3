using System.Text.Json;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.Silo.Api;

/// <summary>Writes a value as JSON in our one shape (Kubernetes field names, times in RFC 3339).</summary>
public sealed class JsonBody(object value, Type type, int statusCode = StatusCodes.Status200OK) : IResult
{
    public static JsonBody Of<T>(T value, int statusCode = StatusCodes.Status200OK) => new(value!, typeof(T), statusCode);

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = statusCode;
        httpContext.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(httpContext.Response.Body, value, type, ResourceJson.Strict, httpContext.RequestAborted);
    }
}

/// <summary>Writes a list (PodList ...) without building it in memory first.</summary>
public sealed class JsonListBody<T>(ResourceType type, IReadOnlyList<T> items, long resourceVersion, string? continueToken = null, long? remainingItemCount = null) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = StatusCodes.Status200OK;
        httpContext.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(httpContext.Response.BodyWriter, new JsonWriterOptions { Encoder = ResourceJson.Strict.Encoder, SkipValidation = true });
        writer.WriteStartObject();
        writer.WriteString("kind", type.ListKind);
        writer.WriteString("apiVersion", type.ApiVersion);
        writer.WriteStartObject("metadata");
        writer.WriteString("resourceVersion", resourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (continueToken is not null)
        {
            writer.WriteString("continue", continueToken);
        }
        if (remainingItemCount is { } remaining)
        {
            writer.WriteNumber("remainingItemCount", remaining);
        }
        writer.WriteEndObject();
        writer.WriteStartArray("items");
        foreach (var item in items)
        {
            JsonSerializer.Serialize(writer, item, ResourceJson.Strict);
            if (writer.BytesPending > 64 * 1024)
            {
                await writer.FlushAsync(httpContext.RequestAborted);
            }
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(httpContext.RequestAborted);
    }
}

/// <summary>Writes an error as a Kubernetes Status with its code.</summary>
public static class StatusBody
{
    public static IResult Of(ApiStatus status) => new JsonBody(status, typeof(ApiStatus), status.Code);

    public static Task WriteAsync(HttpContext context, ApiStatus status)
    {
        context.Response.Clear();
        if (status.Details?.RetryAfterSeconds is { } retry)
        {
            context.Response.Headers.RetryAfter = retry.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return Of(status).ExecuteAsync(context);
    }
}
