using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Orchestrator.Model;

namespace Orchestrator.Silo.Api;

/// <summary>The media types a request body may have.</summary>
public enum BodyFormat
{
    Json,
    Yaml,
    MergePatch,
    JsonPatch,
    StrategicMergePatch,
    Protobuf,
}

/// <summary>Reads request bodies (JSON or YAML, one or several documents) into JSON nodes.</summary>
public static class RequestBody
{
    /// <summary>Kubernetes' API server refuses bodies over 3 MB; so do we.</summary>
    public const long MaxBytes = 3 * 1024 * 1024;

    public static BodyFormat FormatOf(HttpRequest request, byte[] body)
    {
        var type = request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        return type switch
        {
            "application/json" => BodyFormat.Json,
            "application/yaml" or "application/x-yaml" or "text/yaml" or "text/x-yaml" => BodyFormat.Yaml,
            "application/merge-patch+json" => BodyFormat.MergePatch,
            "application/json-patch+json" => BodyFormat.JsonPatch,
            "application/strategic-merge-patch+json" or "application/apply-patch+yaml" => BodyFormat.StrategicMergePatch,
            KubernetesProtobuf.MediaType => BodyFormat.Protobuf,
            // curl sends form encoding unless told otherwise; look at the bytes instead.
            null or "" or "application/x-www-form-urlencoded" or "text/plain" => LooksLikeJson(body) ? BodyFormat.Json : BodyFormat.Yaml,
            _ => throw ApiErrors.UnsupportedMediaType(type),
        };
    }

    /// <summary>A body over <see cref="MaxBytes"/> but under this is read to its end and thrown
    /// away, so that the client, which is still sending, gets the 413 instead of a reset.</summary>
    public const long MaxDrainBytes = 64 * 1024 * 1024;

    /// <summary>The optional body of a subresource call (an eviction, a rollback): null when there
    /// is none, else a JSON or YAML object whose fields are all among <paramref name="fields"/>;
    /// anything else is a 400 that says what was wrong.</summary>
    public static async Task<JsonObject?> ReadOptionalObjectAsync(HttpRequest request, string what, params string[] fields)
    {
        if (!(request.ContentLength > 0))
        {
            return null;
        }
        var body = await ReadAsync(request, request.HttpContext.RequestAborted);
        if (Parse(body, FormatOf(request, body))[0] is not JsonObject doc)
        {
            throw ApiErrors.BadRequest($"{what} must be an object");
        }
        foreach (var (key, _) in doc)
        {
            if (!fields.Contains(key, StringComparer.Ordinal))
            {
                throw ApiErrors.BadRequest($"strict decoding error: unknown field \"{key}\" in {what} (expected {string.Join(", ", fields)})");
            }
        }
        return doc;
    }

    public static async Task<byte[]> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxDrainBytes)
        {
            throw TooLarge();
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        long total = 0;
        try
        {
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                total += read;
                if (total > MaxDrainBytes)
                {
                    break;
                }
                if (total <= MaxBytes)
                {
                    buffer.Write(chunk, 0, read);
                }
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge();
        }
        if (total > MaxBytes)
        {
            throw TooLarge();
        }
        if (buffer.Length == 0)
        {
            throw ApiErrors.BadRequest("the request body is empty");
        }
        return buffer.ToArray();
    }

    private static ApiException TooLarge() => ApiErrors.TooLarge($"the request body is larger than {MaxBytes} bytes, the most the API accepts");

    /// <summary>The body's documents: one for JSON, one or more (empty ones skipped) for YAML.</summary>
    public static IReadOnlyList<JsonNode> Parse(byte[] body, BodyFormat format) => format switch
    {
        BodyFormat.Yaml => Yaml.ToJson(Encoding.UTF8.GetString(body)),
        BodyFormat.Protobuf => [KubernetesProtobuf.ToJson(body)],
        _ => [ParseJson(body)],
    };

    public static JsonNode ParseJson(byte[] body) => Serialization.Patches.ParseJson(body);

    private static bool LooksLikeJson(byte[] body)
    {
        foreach (var b in body)
        {
            if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or 0xEF or 0xBB or 0xBF)
            {
                continue;
            }
            return b is (byte)'{' or (byte)'[';
        }
        return false;
    }
}
