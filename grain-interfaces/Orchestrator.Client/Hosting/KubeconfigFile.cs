namespace Orchestrator.Client.Hosting;

/// <summary>
/// The parts of a kubeconfig a grain client needs: the current context's cluster and user
/// sections. Kubeconfigs are YAML in block style (as kubectl and the silo write them); this reads
/// that subset (maps, lists of maps, plain and quoted scalars, comments) so that the client package
/// needs no YAML library.
/// </summary>
internal sealed record KubeconfigFile(string ClusterName, IReadOnlyDictionary<string, object?> Cluster, string UserName, IReadOnlyDictionary<string, object?> User)
{
    public static KubeconfigFile Load(string path)
    {
        var root = BlockYaml.Parse(File.ReadAllLines(path)) as Dictionary<string, object?>
            ?? throw new InvalidDataException($"{path} is not a kubeconfig (no top-level map)");
        var contextName = root.GetValueOrDefault("current-context") as string;
        var context = Named(root, "contexts", contextName, "context", path, "current-context");
        var clusterName = context.GetValueOrDefault("cluster") as string;
        var userName = context.GetValueOrDefault("user") as string;
        return new KubeconfigFile(clusterName ?? "", Named(root, "clusters", clusterName, "cluster", path, $"context \"{contextName}\""),
            userName ?? "", Named(root, "users", userName, "user", path, $"context \"{contextName}\""));
    }

    private static Dictionary<string, object?> Named(Dictionary<string, object?> root, string list, string? name, string field, string path, string referrer)
    {
        if (name is { Length: > 0 } && root.GetValueOrDefault(list) is List<object?> items)
        {
            foreach (var item in items)
            {
                if (item is Dictionary<string, object?> entry && entry.GetValueOrDefault("name") as string == name)
                {
                    return entry.GetValueOrDefault(field) as Dictionary<string, object?> ?? [];
                }
            }
        }
        throw new InvalidDataException($"{path}: {referrer} names {field} \"{name}\", which is not in {list}");
    }
}

/// <summary>A reader of block-style YAML: maps, lists and scalars by indentation.</summary>
internal static class BlockYaml
{
    private sealed record Line(int Indent, bool Item, string Text);

    public static object? Parse(IEnumerable<string> text)
    {
        var lines = new List<Line>();
        foreach (var raw in text)
        {
            var trimmed = raw.TrimStart(' ');
            if (trimmed.Length == 0 || trimmed.StartsWith('#') || trimmed == "---")
            {
                continue;
            }
            var indent = raw.Length - trimmed.Length;
            // "- key: value" is an item whose map starts at the column after the dash.
            while (trimmed.StartsWith("- ", StringComparison.Ordinal) || trimmed == "-")
            {
                lines.Add(new Line(indent, true, ""));
                var rest = trimmed.Length > 1 ? trimmed[1..] : "";
                var content = rest.TrimStart(' ');
                indent += 1 + rest.Length - content.Length;
                trimmed = content;
            }
            if (trimmed.Length > 0)
            {
                lines.Add(new Line(indent, false, trimmed.TrimEnd()));
            }
        }
        var position = 0;
        return lines.Count == 0 ? null : Block(lines, ref position, lines[0].Indent);
    }

    private static object? Block(List<Line> lines, ref int position, int indent) =>
        lines[position].Item ? List(lines, ref position, indent) : Map(lines, ref position, indent);

    private static List<object?> List(List<Line> lines, ref int position, int indent)
    {
        var list = new List<object?>();
        while (position < lines.Count && lines[position].Item && lines[position].Indent == indent)
        {
            position++;
            var nested = position < lines.Count && (lines[position].Indent > indent);
            list.Add(nested ? Block(lines, ref position, lines[position].Indent) : null);
        }
        return list;
    }

    private static object? Map(List<Line> lines, ref int position, int indent)
    {
        var first = lines[position];
        if (!first.Text.Contains(':', StringComparison.Ordinal) || first.Text.StartsWith('"') || first.Text.StartsWith('\''))
        {
            position++;
            return Scalar(first.Text);
        }
        var map = new Dictionary<string, object?>(StringComparer.Ordinal);
        while (position < lines.Count && !lines[position].Item && lines[position].Indent == indent)
        {
            var text = lines[position].Text;
            var colon = text.IndexOf(": ", StringComparison.Ordinal);
            if (colon < 0 && text.EndsWith(':'))
            {
                colon = text.Length - 1;
            }
            if (colon < 0)
            {
                throw new InvalidDataException($"not a \"key: value\" line: {text}");
            }
            var key = (string)Scalar(text[..colon])!;
            var value = text[(colon + 1)..].Trim();
            position++;
            if (value.Length > 0)
            {
                map[key] = value is "{}" or "[]" ? null : Scalar(value);
            }
            else if (position < lines.Count && (lines[position].Indent > indent || (lines[position].Item && lines[position].Indent == indent)))
            {
                map[key] = Block(lines, ref position, lines[position].Indent);
            }
            else
            {
                map[key] = null;
            }
        }
        return map;
    }

    private static string? Scalar(string text)
    {
        if (text.Length >= 2 && text[0] == '"' && text[^1] == '"')
        {
            return System.Text.RegularExpressions.Regex.Unescape(text[1..^1]);
        }
        if (text.Length >= 2 && text[0] == '\'' && text[^1] == '\'')
        {
            return text[1..^1].Replace("''", "'", StringComparison.Ordinal);
        }
        var comment = text.IndexOf(" #", StringComparison.Ordinal);
        return (comment >= 0 ? text[..comment] : text).Trim() is "null" or "~" ? null : (comment >= 0 ? text[..comment] : text).Trim();
    }
}
