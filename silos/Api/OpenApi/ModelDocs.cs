using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Orchestrator.Silo.Api.OpenApi;

/// <summary>
/// The XML doc comments of the model (Orchestrator.Model.xml, written by its build next to the
/// assembly) as descriptions for the OpenAPI documents: kubectl explain prints them. A type or
/// field without a comment simply has no description; without the file there are none.
/// </summary>
public sealed partial class ModelDocs
{
    private readonly Dictionary<string, string> _summaries;

    private ModelDocs(Dictionary<string, string> summaries) => _summaries = summaries;

    public static ModelDocs None { get; } = new([]);

    /// <summary>Reads the documentation file of the assembly holding <paramref name="modelType"/>.</summary>
    public static ModelDocs For(Type modelType)
    {
        var path = Path.ChangeExtension(modelType.Assembly.Location, ".xml");
        if (string.IsNullOrEmpty(modelType.Assembly.Location) || !File.Exists(path))
        {
            return None;
        }
        var summaries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var member in XDocument.Load(path).Descendants("member"))
        {
            if (member.Attribute("name")?.Value is { } name && member.Element("summary") is { } summary)
            {
                summaries[name] = Flatten(summary);
            }
        }
        return new ModelDocs(summaries);
    }

    public string? Of(Type type) => _summaries.GetValueOrDefault("T:" + type.FullName?.Replace('+', '.'));

    public string? Of(PropertyInfo property) =>
        _summaries.GetValueOrDefault($"P:{property.DeclaringType?.FullName?.Replace('+', '.')}.{property.Name}");

    /// <summary>The summary's text on one line, with &lt;c&gt; and &lt;see cref&gt; written as the
    /// words they stand for.</summary>
    private static string Flatten(XElement summary)
    {
        var parts = summary.Nodes().Select(node => node switch
        {
            XText text => text.Value,
            XElement { Name.LocalName: "see" } see => (see.Attribute("cref")?.Value ?? see.Attribute("langword")?.Value ?? "").Split('.', ':')[^1],
            XElement element => element.Value,
            _ => "",
        });
        return Whitespace().Replace(string.Concat(parts), " ").Trim();
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
