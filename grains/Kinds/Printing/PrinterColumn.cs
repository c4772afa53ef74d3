using Orchestrator.Model;

namespace Orchestrator.Grains.Kinds.Printing;

/// <summary>
/// One column of a kind's table, as Kubernetes' printers declare it (a TableColumnDefinition:
/// name, type, format, description, priority) together with how a row's cell is computed.
/// Priority 0 columns are what kubectl get prints; priority 1 columns only with -o wide.
/// A cell is a string or a number; <paramref name="Cell"/> gets the time "now" so ages are
/// computed against one clock per response.
/// </summary>
public sealed record PrinterColumn<T>(string Name, string Type, string Description, Func<T, DateTimeOffset, object?> Cell, int Priority = 0, string Format = "")
{
    /// <summary>A column shown only by kubectl get -o wide.</summary>
    public PrinterColumn<T> Wide() => this with { Priority = 1 };
}

/// <summary>The columns every table has, and Kubernetes' default table for a kind that declares
/// none of its own.</summary>
public static class PrinterColumns
{
    public const string NameDescription = "Name must be unique within a namespace.";
    public const string AgeDescription = "CreationTimestamp is a timestamp representing the server time when this object was created.";

    public static PrinterColumn<T> Name<T>() where T : IResource =>
        new("Name", "string", NameDescription, (o, _) => o.Metadata.Name ?? "", Format: "name");

    public static PrinterColumn<T> Age<T>() where T : IResource =>
        new("Age", "string", AgeDescription, (o, now) => Durations.Since(o.Metadata.CreationTimestamp, now));

    /// <summary>kubectl's own table for a kind the server has no printer for: NAME and AGE.</summary>
    public static IReadOnlyList<PrinterColumn<T>> Default<T>() where T : IResource => [Name<T>(), Age<T>()];

    /// <summary>"&lt;none&gt;" for an empty value, as Kubernetes' printers write it.</summary>
    public static string OrNone(string? value) => string.IsNullOrEmpty(value) ? "<none>" : value;

    /// <summary>Kubernetes' labels.FormatLabels: "k=v,k2=v2" in key order, or "&lt;none&gt;".</summary>
    public static string FormatLabels(IReadOnlyDictionary<string, string>? labels) =>
        labels is { Count: > 0 } ? string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) : "<none>";
}

/// <summary>Kubernetes' duration.HumanDuration, the AGE of kubectl get: two significant units at
/// most, fewer as the duration grows.</summary>
public static class Durations
{
    /// <summary>translateTimestampSince: the age of a timestamp, "&lt;unknown&gt;" without one.</summary>
    public static string Since(DateTimeOffset? timestamp, DateTimeOffset now) =>
        timestamp is { } t ? Human(now - t) : "<unknown>";

    public static string Human(TimeSpan d)
    {
        // Up to two seconds in the future is clock skew between machines: "0s".
        var seconds = (long)Math.Truncate(d.TotalSeconds);
        if (seconds < -1)
        {
            return "<invalid>";
        }
        if (seconds < 0)
        {
            return "0s";
        }
        if (seconds < 60 * 2)
        {
            return $"{seconds}s";
        }
        var minutes = (long)Math.Truncate(d.TotalMinutes);
        if (minutes < 10)
        {
            var s = seconds % 60;
            return s == 0 ? $"{minutes}m" : $"{minutes}m{s}s";
        }
        if (minutes < 60 * 3)
        {
            return $"{minutes}m";
        }
        var hours = (long)Math.Truncate(d.TotalHours);
        if (hours < 8)
        {
            var m = minutes % 60;
            return m == 0 ? $"{hours}h" : $"{hours}h{m}m";
        }
        if (hours < 48)
        {
            return $"{hours}h";
        }
        if (hours < 24 * 8)
        {
            var h = hours % 24;
            return h == 0 ? $"{hours / 24}d" : $"{hours / 24}d{h}h";
        }
        if (hours < 24 * 365 * 2)
        {
            return $"{hours / 24}d";
        }
        if (hours < 24 * 365 * 8)
        {
            var days = hours / 24 % 365;
            return days == 0 ? $"{hours / 24 / 365}y" : $"{hours / 24 / 365}y{days}d";
        }
        return $"{hours / 24 / 365}y";
    }
}
