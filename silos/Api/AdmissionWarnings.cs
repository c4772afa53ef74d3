using Microsoft.Extensions.Options;
using Orchestrator.Grains;
using Orchestrator.Grains.Security;
using Orchestrator.Model;

namespace Orchestrator.Silo.Api;

/// <summary>
/// Admission warnings as Kubernetes returns them: one <c>Warning: 299 - "text"</c> response
/// header each, which kubectl prints as "Warning: text". A write that admission let through
/// may still deserve a warning (Pod Security's warn mode, or a workload whose pods the enforce
/// mode would refuse); the grain decides what is stored, this adds what the client is told.
/// </summary>
public static class AdmissionWarnings
{
    /// <summary>Adds the warnings for <paramref name="written"/>, an object just created or updated.</summary>
    public static async Task AddAsync(HttpContext http, object written)
    {
        // The kinds that carry a pod spec: a pod itself, or a workload's pod template.
        var (meta, spec, template) = written switch
        {
            Pod p => (p.Metadata, p.Spec, false),
            Deployment d => (d.Metadata, d.Spec.Template.Spec, true),
            ReplicaSet r => (r.Metadata, r.Spec.Template.Spec, true),
            _ => (null, null, false),
        };
        if (meta?.Namespace is not { } nsName || spec is null)
        {
            return;
        }
        var options = http.RequestServices.GetRequiredService<IOptions<ControlPlaneOptions>>().Value.PodSecurity;
        var ns = await http.RequestServices.GetRequiredService<Grains.Index.ResourceCaches>().Of<Namespace>().GetAsync(nsName);
        foreach (var warning in PodSecurityPolicy.Warnings(nsName, ns, spec, template, options))
        {
            Add(http, warning);
        }
        if (PodSecurityPolicy.AuditViolations(nsName, ns, spec, options) is { } violations)
        {
            Orchestrator.Silo.Security.AuditLog.Annotate(http, PodSecurityLabels.Audit + "-violations", violations);
        }
    }

    /// <summary>RFC 7234 warn-code 299 ("miscellaneous persistent warning"), agent "-", the text
    /// quoted with its quotes and backslashes escaped.</summary>
    public static void Add(HttpContext http, string text) =>
        http.Response.Headers.Append("Warning", $"299 - \"{text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"");
}
