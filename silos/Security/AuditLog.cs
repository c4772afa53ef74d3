using System.Globalization;
using System.Text.Json;
using Orchestrator.Grains.Security;
using Orchestrator.Model;
using Orchestrator.Silo.Hosting;

namespace Orchestrator.Silo.Security;

/// <summary>Settings of the audit log, section Orchestrator:Audit.</summary>
public sealed class AuditOptions
{
    public const string Section = "Orchestrator:Audit";

    /// <summary>Off only when set to false: a cluster keeps a record of who changed what by default.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The log file; a relative path is under Orchestrator:DataDirectory. Default audit.log.</summary>
    public string Path { get; set; } = "audit.log";

    /// <summary>Size at which the file rotates (kube-apiserver's --audit-log-maxsize). Default 100 MiB.</summary>
    public double MaxSizeMiB { get; set; } = 100;

    /// <summary>Rotated files kept: audit.log.1 ... audit.log.N (--audit-log-maxbackup). Default 5.</summary>
    public int MaxBackups { get; set; } = 5;
}

/// <summary>
/// Kubernetes' audit log at level Metadata: one audit.k8s.io/v1 Event per JSON line, for every
/// request that changes something (any verb but get, list, watch) and every request refused
/// (401, 403), at stage ResponseComplete. Metadata level means who, what, on which object and
/// with what outcome, never a request or response body: Secrets' data never reaches the log.
/// </summary>
public static class AuditLog
{
    private static readonly string[] ReadVerbs = ["get", "list", "watch"];

    /// <summary>Audits every request after it; place it right after authentication so that
    /// the user is known, and outside the endpoints so that it sees their final status code.</summary>
    public static IApplicationBuilder UseAuditLog(this IApplicationBuilder app)
    {
        var configuration = app.ApplicationServices.GetRequiredService<IConfiguration>();
        var options = configuration.GetSection(AuditOptions.Section).Get<AuditOptions>() ?? new AuditOptions();
        if (!options.Enabled)
        {
            return app;
        }
        var dataDirectory = (configuration.GetSection("Orchestrator").Get<SiloSettings>() ?? new SiloSettings()).DataDirectory;
        var writer = new AuditLogWriter(
            System.IO.Path.Combine(dataDirectory, options.Path),
            (long)(options.MaxSizeMiB * 1024 * 1024),
            options.MaxBackups);
        var lifetime = app.ApplicationServices.GetRequiredService<IHostApplicationLifetime>();
        // After the server has stopped taking requests: every event is queued by then.
        lifetime.ApplicationStopped.Register(() => writer.DisposeAsync().AsTask().GetAwaiter().GetResult());
        var time = app.ApplicationServices.GetService<TimeProvider>() ?? TimeProvider.System;
        return app.Use((http, next) => AuditAsync(http, next, writer, time));
    }

    private static async Task AuditAsync(HttpContext http, RequestDelegate next, AuditLogWriter writer, TimeProvider time)
    {
        var received = time.GetUtcNow();
        var auditId = http.Request.Headers["Audit-ID"].FirstOrDefault() is { Length: > 0 } given ? given : Guid.NewGuid().ToString();
        // Kubernetes answers with the id so that a client can find its request in the log.
        http.Response.Headers["Audit-ID"] = auditId;
        int? failedCode = null;
        try
        {
            await next(http);
        }
        catch (Exception ex)
        {
            failedCode = ex is ApiException api ? api.Code : StatusCodes.Status500InternalServerError;
            throw;
        }
        finally
        {
            var code = failedCode ?? http.Response.StatusCode;
            var attributes = http.Attributes();
            var verb = attributes?.Verb ?? VerbOf(http.Request.Method);
            if (!ReadVerbs.Contains(verb) || code is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden)
            {
                await writer.WriteAsync(Event(http, attributes, verb, auditId, code, received, time.GetUtcNow()));
            }
        }
    }

    private sealed record Annotations(Dictionary<string, string> Values);

    /// <summary>Adds an annotation to this request's audit event (Kubernetes' audit annotations,
    /// such as Pod Security's audit-violations).</summary>
    public static void Annotate(HttpContext http, string key, string value)
    {
        var annotations = http.Features.Get<Annotations>();
        if (annotations is null)
        {
            annotations = new Annotations(new Dictionary<string, string>(StringComparer.Ordinal));
            http.Features.Set(annotations);
        }
        annotations.Values[key] = value;
    }

    /// <summary>The verb of a request that never reached authorization, from its method alone
    /// (a GET may have been a list or a watch: "get" reads all the same).</summary>
    private static string VerbOf(string method) => method.ToUpperInvariant() switch
    {
        "GET" or "HEAD" or "OPTIONS" => "get",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => method.ToLowerInvariant(),
    };

    /// <summary>One audit.k8s.io/v1 Event, with Kubernetes' field names and omissions.</summary>
    public static string Event(HttpContext http, RequestAttributes? attributes, string verb, string auditId, int code, DateTimeOffset received, DateTimeOffset done)
    {
        var user = attributes?.User ?? http.User();
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("kind", "Event");
            w.WriteString("apiVersion", "audit.k8s.io/v1");
            w.WriteString("level", "Metadata");
            w.WriteString("auditID", auditId);
            w.WriteString("stage", "ResponseComplete");
            w.WriteString("requestURI", http.Request.Path.ToString() + http.Request.QueryString.ToString());
            w.WriteString("verb", verb);
            // Who authenticated; with impersonation, whom it acted as goes under impersonatedUser.
            var impersonator = http.Impersonator();
            WriteUser(w, "user", impersonator ?? user);
            if (impersonator is not null)
            {
                WriteUser(w, "impersonatedUser", user);
            }
            w.WriteStartArray("sourceIPs");
            if (http.Connection.RemoteIpAddress is { } ip)
            {
                w.WriteStringValue((ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString());
            }
            w.WriteEndArray();
            if (http.Request.Headers.UserAgent.FirstOrDefault() is { Length: > 0 } agent)
            {
                w.WriteString("userAgent", agent);
            }
            if (attributes is { IsResourceRequest: true })
            {
                w.WriteStartObject("objectRef");
                WriteIfAny(w, "resource", attributes.Resource);
                WriteIfAny(w, "namespace", attributes.Namespace);
                WriteIfAny(w, "name", attributes.Name);
                WriteIfAny(w, "apiGroup", attributes.ApiGroup);
                WriteIfAny(w, "apiVersion", attributes.ApiVersion);
                WriteIfAny(w, "subresource", attributes.Subresource);
                w.WriteEndObject();
            }
            w.WriteStartObject("responseStatus");
            w.WriteStartObject("metadata");
            w.WriteEndObject();
            w.WriteNumber("code", code);
            w.WriteEndObject();
            w.WriteString("requestReceivedTimestamp", Timestamp(received));
            w.WriteString("stageTimestamp", Timestamp(done));
            if (http.Features.Get<Annotations>() is { Values.Count: > 0 } annotations)
            {
                w.WriteStartObject("annotations");
                foreach (var (key, value) in annotations.Values)
                {
                    w.WriteString(key, value);
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteIfAny(Utf8JsonWriter w, string name, string value)
    {
        if (value.Length > 0)
        {
            w.WriteString(name, value);
        }
    }

    /// <summary>RFC 3339 with microseconds, as Kubernetes' MicroTime.</summary>
    private static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static void WriteUser(Utf8JsonWriter w, string property, UserInfo user)
    {
        w.WriteStartObject(property);
        w.WriteString("username", user.Name);
        if (user.Uid is { Length: > 0 } uid)
        {
            w.WriteString("uid", uid);
        }
        w.WriteStartArray("groups");
        foreach (var g in user.Groups)
        {
            w.WriteStringValue(g);
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
