using Microsoft.Extensions.Options;
using Orchestrator.Model;

namespace Orchestrator.Grains;

/// <summary>
/// Settings of the control plane, bound from the configuration section "Orchestrator"
/// (environment variables <c>Orchestrator__ServiceCidr</c> and so on).
/// </summary>
public sealed class ControlPlaneOptions
{
    public const string Section = "Orchestrator";

    /// <summary>ClusterIPs are allocated from this range. Default 10.96.0.0/12, as in Kubernetes.</summary>
    public string ServiceCidr { get; set; } = "10.96.0.0/12";

    /// <summary>NodePorts come from this range, "first-last". Default 30000-32767, as Kubernetes.</summary>
    public string NodePortRange { get; set; } = "30000-32767";

    /// <summary>The range as numbers.</summary>
    public (int First, int Last) NodePorts
    {
        get
        {
            var parts = NodePortRange.Split('-');
            return (int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Node pod CIDRs are carved from this range. Default 10.244.0.0/16.</summary>
    public string ClusterCidr { get; set; } = "10.244.0.0/16";

    /// <summary>Prefix length of each node's pod CIDR. Default 24 (254 pods per node).</summary>
    public int NodeCidrMaskSize { get; set; } = 24;

    /// <summary>Period of the durable reminder that re-runs every controller: the safety net that
    /// brings a controller back after a crash. Orleans enforces ReminderOptions.MinimumReminderPeriod
    /// (1 minute unless lowered). Default 1 minute.</summary>
    public TimeSpan ResyncPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>A node whose agent has not renewed its lease for this long becomes
    /// Ready=Unknown. Agents renew every second. Default 5 s (Kubernetes: 40-50 s).</summary>
    public TimeSpan NodeLeaseDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long pods stay on a node that became NotReady or unreachable before they are
    /// evicted, for pods that do not say otherwise (Kubernetes' DefaultTolerationSeconds adds a
    /// toleration of 300 s to every pod; ours is this). Default 5 s.</summary>
    public TimeSpan DefaultTolerationSeconds { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How many changes of each kind the store's feed and each silo's cache keep for
    /// watches and continued lists to resume from; older resourceVersions get 410 Gone. Default 50,000.</summary>
    public int WatchLogCapacity { get; set; } = 50_000;

    /// <summary>Events older than this are deleted. Default 1 hour, as Kubernetes' --event-ttl.</summary>
    public TimeSpan EventTtl { get; set; } = TimeSpan.FromHours(1);

    /// <summary>hostPath volumes must lie under one of these directories; a pod (or pod template)
    /// naming any other host path is refused with 422. Node agents enforce their own list too.
    /// Default: /tmp and /var/lib/orchestrator-agent/host.</summary>
    public List<string> AllowedHostPathRoots { get; set; } = ["/tmp", "/var/lib/orchestrator-agent/host"];

    /// <summary>Pod Security admission for namespaces without pod-security.kubernetes.io labels
    /// (section Orchestrator:PodSecurity).</summary>
    public PodSecurityOptions PodSecurity { get; set; } = new();

    /// <summary>Reconcile retry back-off: starts here and doubles per consecutive failure.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Reconcile retry back-off cap.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Kubernetes' PodSecurity admission configuration: the levels that apply where a namespace has
/// no label of its own. Kubernetes defaults all three to privileged; we enforce baseline, so a
/// fresh cluster refuses privileged pods, host namespaces and hostPath volumes unless a
/// namespace is labelled pod-security.kubernetes.io/enforce=privileged.
/// </summary>
public sealed class PodSecurityOptions
{
    /// <summary>Level enforced where no label says otherwise. Default baseline.</summary>
    public string DefaultEnforce { get; set; } = PodSecurityLabels.Baseline;

    /// <summary>Level that only warns (HTTP Warning header). Default privileged (no warnings).</summary>
    public string DefaultWarn { get; set; } = PodSecurityLabels.Privileged;

    /// <summary>Level whose violations an admitted write records in its audit event (annotation
    /// pod-security.kubernetes.io/audit-violations). Default privileged.</summary>
    public string DefaultAudit { get; set; } = PodSecurityLabels.Privileged;

    /// <summary>Namespaces whose pods are never checked (Kubernetes' exemptions.namespaces):
    /// the system namespace runs the cluster's own privileged pods. Default kube-system.</summary>
    public List<string> ExemptNamespaces { get; set; } = [WellKnown.SystemNamespace];
}

public sealed class ControlPlaneOptionsValidator : IValidateOptions<ControlPlaneOptions>
{
    public ValidateOptionsResult Validate(string? name, ControlPlaneOptions o)
    {
        var problems = new List<string>();
        foreach (var (key, level) in new[] { ("DefaultEnforce", o.PodSecurity.DefaultEnforce), ("DefaultWarn", o.PodSecurity.DefaultWarn), ("DefaultAudit", o.PodSecurity.DefaultAudit) })
        {
            if (!PodSecurityLabels.Levels.Contains(level))
            {
                problems.Add($"Orchestrator:PodSecurity:{key} \"{level}\" must be one of {string.Join(", ", PodSecurityLabels.Levels)}.");
            }
        }
        if (!Cidr.TryParse(o.ServiceCidr, out var svc) || svc.PrefixLength > 30)
        {
            problems.Add($"Orchestrator:ServiceCidr \"{o.ServiceCidr}\" must be an IPv4 CIDR of /30 or larger, such as 10.96.0.0/12.");
        }
        if (!Cidr.TryParse(o.ClusterCidr, out var cluster))
        {
            problems.Add($"Orchestrator:ClusterCidr \"{o.ClusterCidr}\" must be an IPv4 CIDR such as 10.244.0.0/16.");
        }
        else if (o.NodeCidrMaskSize < cluster.PrefixLength || o.NodeCidrMaskSize > 30)
        {
            problems.Add($"Orchestrator:NodeCidrMaskSize {o.NodeCidrMaskSize} must be between the ClusterCidr prefix ({cluster.PrefixLength}) and 30.");
        }
        var range = o.NodePortRange.Split('-');
        if (range.Length != 2 || !int.TryParse(range[0], out var first) || !int.TryParse(range[1], out var last) || first < 1 || last > 65535 || first > last)
        {
            problems.Add($"Orchestrator:NodePortRange \"{o.NodePortRange}\" must be two ports \"first-last\", e.g. 30000-32767.");
        }
        if (o.NodeLeaseDuration <= TimeSpan.Zero)
        {
            problems.Add("Orchestrator:NodeLeaseDuration must be positive, e.g. 00:00:05.");
        }
        if (o.WatchLogCapacity < 100)
        {
            problems.Add("Orchestrator:WatchLogCapacity must be at least 100.");
        }
        if (o.ResyncPeriod <= TimeSpan.Zero || o.RetryBaseDelay <= TimeSpan.Zero || o.RetryMaxDelay < o.RetryBaseDelay)
        {
            problems.Add("Orchestrator:ResyncPeriod, RetryBaseDelay and RetryMaxDelay must be positive, with RetryMaxDelay >= RetryBaseDelay.");
        }
        if (o.AllowedHostPathRoots.Any(r => !r.StartsWith('/')))
        {
            problems.Add("Orchestrator:AllowedHostPathRoots entries must be absolute paths such as /srv/data.");
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
