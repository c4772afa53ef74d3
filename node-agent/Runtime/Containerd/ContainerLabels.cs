using System.Globalization;
using System.Text;

namespace Orchestrator.NodeAgent.Runtime.Containerd;

/// <summary>
/// The labels every container of ours carries in containerd. They hold everything the agent needs
/// to rebuild its view after a restart (Kubernetes' kubelet does the same with
/// io.kubernetes.pod.uid and friends), including the exit status once the container has ended,
/// because containerd forgets a task's exit code when the task is deleted.
/// </summary>
internal static class ContainerLabels
{
    private const string Prefix = "io.orchestrator.";
    public const string PodUid = Prefix + "pod.uid";
    public const string PodNamespace = Prefix + "pod.namespace";
    public const string PodName = Prefix + "pod.name";
    public const string ContainerName = Prefix + "container.name";
    public const string Attempt = Prefix + "container.attempt";
    public const string Image = Prefix + "container.image";
    public const string StartedAt = Prefix + "container.started-at";
    public const string MemoryLimit = Prefix + "container.memory-limit";
    public const string ExitCode = Prefix + "container.exit-code";
    public const string Reason = Prefix + "container.reason";
    public const string FinishedAt = Prefix + "container.finished-at";

    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    public static DateTimeOffset? ParseTime(IReadOnlyDictionary<string, string> labels, string key) =>
        labels.TryGetValue(key, out var text) && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    public static int? ParseInt(IReadOnlyDictionary<string, string> labels, string key) =>
        labels.TryGetValue(key, out var text) && int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : null;

    /// <summary>
    /// A container id valid for containerd (letters and digits separated by single '.', '_' or
    /// '-', at most 76 characters) and unique per pod, container and attempt:
    /// "{name}-{pod uid}-{attempt}". The name part is only for people reading <c>ctr c ls</c>;
    /// when it had to be shortened or cleaned, a hash of the real name keeps ids of different
    /// containers of one pod apart.
    /// </summary>
    public static string ContainerId(string podUid, string containerName, int attempt)
    {
        var uid = Clean(podUid.Replace("-", "", StringComparison.Ordinal), 40);
        var name = Clean(containerName, 24);
        if (name != containerName)
        {
            name = $"{(name.Length == 0 ? "c" : name)}-{Fnv(containerName):x8}";
        }
        return $"{name}-{uid}-{attempt.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>Keeps letters and digits, turns every other run of characters into one '-', and
    /// trims to <paramref name="max"/> characters without a trailing '-'.</summary>
    private static string Clean(string text, int max)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var ch in text)
        {
            if (char.IsAsciiLetterOrDigit(ch))
            {
                sb.Append(ch);
            }
            else if (sb.Length > 0 && sb[^1] != '-')
            {
                sb.Append('-');
            }
        }
        var s = sb.ToString();
        if (s.Length > max)
        {
            s = s[..max];
        }
        return s.Trim('-');
    }

    private static uint Fnv(string text)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash = (hash ^ b) * 16777619u;
        }
        return hash;
    }
}
