using System.Text;
using System.Text.Json.Serialization;
using Orchestrator.Model;
using Orchestrator.Validation;

namespace Orchestrator.Selectors;

/// <summary>One clause of a label selector.</summary>
[GenerateSerializer, Immutable, Alias("orch.LabelRequirement")]
public sealed record LabelRequirement(
    [property: Id(0)] string Key,
    [property: Id(1)] SelectorOperator Operator,
    [property: Id(2)] IReadOnlyList<string> Values)
{
    public bool Matches(IReadOnlyDictionary<string, string>? labels)
    {
        string? value = null;
        var has = labels is not null && labels.TryGetValue(Key, out value);
        return Operator switch
        {
            SelectorOperator.Equals => has && value == Values[0],
            SelectorOperator.NotEquals => !has || value != Values[0],
            SelectorOperator.In => has && Values.Contains(value!),
            SelectorOperator.NotIn => !has || !Values.Contains(value!),
            SelectorOperator.Exists => has,
            SelectorOperator.DoesNotExist => !has,
            _ => false,
        };
    }

    public override string ToString() => Operator switch
    {
        SelectorOperator.Equals => $"{Key}={Values[0]}",
        SelectorOperator.NotEquals => $"{Key}!={Values[0]}",
        SelectorOperator.In => $"{Key} in ({string.Join(",", Values)})",
        SelectorOperator.NotIn => $"{Key} notin ({string.Join(",", Values)})",
        SelectorOperator.Exists => Key,
        _ => "!" + Key,
    };
}

public enum SelectorOperator
{
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// <summary>
/// A parsed label selector (the <c>labelSelector</c> query string, or a spec's
/// matchLabels/matchExpressions). Requirements are ANDed; the empty selector matches everything.
/// </summary>
[GenerateSerializer, Immutable, Alias("orch.Selector")]
public sealed record Selector([property: Id(0)] IReadOnlyList<LabelRequirement> Requirements)
{
    public static Selector Everything { get; } = new([]);

    [JsonIgnore]
    public bool IsEverything => Requirements.Count == 0;

    public bool Matches(IReadOnlyDictionary<string, string>? labels)
    {
        foreach (var r in Requirements)
        {
            if (!r.Matches(labels))
            {
                return false;
            }
        }
        return true;
    }

    public override string ToString() => string.Join(",", Requirements);

    public static Selector FromLabels(IReadOnlyDictionary<string, string> labels) =>
        new(labels.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new LabelRequirement(kv.Key, SelectorOperator.Equals, [kv.Value])).ToList());

    /// <summary>Converts a spec's selector; false when it has an operator we do not know.</summary>
    public static bool TryFrom(LabelSelector selector, out Selector result)
    {
        var reqs = new List<LabelRequirement>();
        if (selector.MatchLabels is { } ml)
        {
            reqs.AddRange(ml.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new LabelRequirement(kv.Key, SelectorOperator.Equals, [kv.Value])));
        }
        foreach (var e in selector.MatchExpressions ?? [])
        {
            SelectorOperator? op = e.Operator switch
            {
                "In" => SelectorOperator.In,
                "NotIn" => SelectorOperator.NotIn,
                "Exists" => SelectorOperator.Exists,
                "DoesNotExist" => SelectorOperator.DoesNotExist,
                _ => null,
            };
            if (op is null)
            {
                result = Everything;
                return false;
            }
            reqs.Add(new LabelRequirement(e.Key, op.Value, e.Values ?? []));
        }
        result = new Selector(reqs);
        return true;
    }

    public static Selector From(LabelSelector selector) =>
        TryFrom(selector, out var s) ? s : throw ApiErrors.BadRequest("invalid label selector operator");

    /// <summary>
    /// Parses Kubernetes' selector syntax: <c>a=b,c==d,e!=f,g in (h,i),j notin (k),l,!m</c>.
    /// Throws a 400 naming the problem.
    /// </summary>
    public static Selector Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Everything;
        }
        var reqs = new List<LabelRequirement>();
        var i = 0;
        while (true)
        {
            SkipSpaces(text, ref i);
            var negate = false;
            if (i < text.Length && text[i] == '!')
            {
                negate = true;
                i++;
                SkipSpaces(text, ref i);
            }
            var key = ReadToken(text, ref i);
            if (key.Length == 0)
            {
                throw Bad(text, "expected a label key");
            }
            CheckKey(text, key);
            SkipSpaces(text, ref i);
            if (negate)
            {
                reqs.Add(new LabelRequirement(key, SelectorOperator.DoesNotExist, []));
            }
            else if (i >= text.Length || text[i] == ',')
            {
                reqs.Add(new LabelRequirement(key, SelectorOperator.Exists, []));
            }
            else if (text[i] == '=' || text[i] == '!')
            {
                var op = SelectorOperator.Equals;
                if (text[i] == '!')
                {
                    if (i + 1 >= text.Length || text[i + 1] != '=')
                    {
                        throw Bad(text, "expected '!='");
                    }
                    op = SelectorOperator.NotEquals;
                    i += 2;
                }
                else
                {
                    i += i + 1 < text.Length && text[i + 1] == '=' ? 2 : 1;
                }
                SkipSpaces(text, ref i);
                var value = ReadToken(text, ref i);
                CheckValue(text, value);
                reqs.Add(new LabelRequirement(key, op, [value]));
            }
            else
            {
                var word = ReadToken(text, ref i);
                var op = word switch
                {
                    "in" => SelectorOperator.In,
                    "notin" => SelectorOperator.NotIn,
                    _ => throw Bad(text, $"unknown operator \"{word}\" after key \"{key}\""),
                };
                SkipSpaces(text, ref i);
                if (i >= text.Length || text[i] != '(')
                {
                    throw Bad(text, "expected '(' after 'in' or 'notin'");
                }
                i++;
                var values = new List<string>();
                while (true)
                {
                    SkipSpaces(text, ref i);
                    var v = ReadToken(text, ref i);
                    CheckValue(text, v);
                    values.Add(v);
                    SkipSpaces(text, ref i);
                    if (i < text.Length && text[i] == ',')
                    {
                        i++;
                        continue;
                    }
                    if (i < text.Length && text[i] == ')')
                    {
                        i++;
                        break;
                    }
                    throw Bad(text, "expected ',' or ')' in a value list");
                }
                reqs.Add(new LabelRequirement(key, op, values));
            }
            SkipSpaces(text, ref i);
            if (i >= text.Length)
            {
                break;
            }
            if (text[i] != ',')
            {
                throw Bad(text, $"unexpected '{text[i]}' at position {i}");
            }
            i++;
        }
        return new Selector(reqs);
    }

    private static void SkipSpaces(string s, ref int i)
    {
        while (i < s.Length && s[i] == ' ')
        {
            i++;
        }
    }

    private static string ReadToken(string s, ref int i)
    {
        var sb = new StringBuilder();
        while (i < s.Length && s[i] is not (' ' or ',' or '=' or '!' or '(' or ')'))
        {
            sb.Append(s[i++]);
        }
        return sb.ToString();
    }

    private static void CheckKey(string text, string key)
    {
        var problems = Names.QualifiedName(key);
        if (problems.Count > 0)
        {
            throw Bad(text, $"invalid label key \"{key}\": {problems[0]}");
        }
    }

    private static void CheckValue(string text, string value)
    {
        var problems = Names.LabelValue(value);
        if (problems.Count > 0)
        {
            throw Bad(text, $"invalid label value \"{value}\": {problems[0]}");
        }
    }

    private static ApiException Bad(string text, string why) =>
        ApiErrors.BadRequest($"unable to parse requirement: labelSelector \"{text}\": {why}");
}

/// <summary>One clause of a field selector: <c>spec.nodeName=node-1</c>.</summary>
[GenerateSerializer, Immutable, Alias("orch.FieldRequirement")]
public sealed record FieldRequirement(
    [property: Id(0)] string Field,
    [property: Id(1)] bool Equal,
    [property: Id(2)] string Value);

/// <summary>
/// A parsed field selector. Kubernetes supports only a few fields per kind; so do we, and an
/// unsupported field is a 400 that names it.
/// </summary>
[GenerateSerializer, Immutable, Alias("orch.FieldSelector")]
public sealed record FieldSelector([property: Id(0)] IReadOnlyList<FieldRequirement> Requirements)
{
    public static FieldSelector Everything { get; } = new([]);

    [JsonIgnore]
    public bool IsEverything => Requirements.Count == 0;

    public static FieldSelector Parse(string? text, ResourceType type)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Everything;
        }
        var reqs = new List<FieldRequirement>();
        foreach (var part in text.Split(','))
        {
            var clause = part.Trim();
            int at;
            bool equal;
            int skip;
            if ((at = clause.IndexOf("!=", StringComparison.Ordinal)) > 0)
            {
                equal = false;
                skip = 2;
            }
            else if ((at = clause.IndexOf("==", StringComparison.Ordinal)) > 0)
            {
                equal = true;
                skip = 2;
            }
            else if ((at = clause.IndexOf('=')) > 0)
            {
                equal = true;
                skip = 1;
            }
            else
            {
                throw ApiErrors.BadRequest($"invalid field selector \"{text}\": \"{clause}\" is not of the form field=value or field!=value");
            }
            var field = clause[..at].Trim();
            var value = clause[(at + skip)..].Trim();
            if (!ResourceFields.Supports(type, field))
            {
                throw ApiErrors.BadRequest($"field label not supported: {field} (supported for {type.Plural}: {string.Join(", ", ResourceFields.Supported(type))})");
            }
            reqs.Add(new FieldRequirement(field, equal, value));
        }
        return new FieldSelector(reqs);
    }

    public bool Matches(IResource obj)
    {
        foreach (var r in Requirements)
        {
            var actual = ResourceFields.Get(obj, r.Field) ?? "";
            if ((actual == r.Value) != r.Equal)
            {
                return false;
            }
        }
        return true;
    }

    public override string ToString() => string.Join(",", Requirements.Select(r => $"{r.Field}{(r.Equal ? "=" : "!=")}{r.Value}"));
}

/// <summary>The fields a field selector may name, per kind, as Kubernetes allows them.</summary>
public static class ResourceFields
{
    private static readonly string[] Common = ["metadata.name", "metadata.namespace"];
    private static readonly string[] PodFields = [.. Common, "spec.nodeName", "status.phase", "status.podIP", "spec.restartPolicy"];
    private static readonly string[] NodeFields = [.. Common, "spec.unschedulable"];
    private static readonly string[] EventFields = [.. Common, "involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "involvedObject.uid", "reason", "type"];
    private static readonly string[] NamespaceFields = [.. Common, "status.phase"];

    public static IReadOnlyList<string> Supported(ResourceType type) => type.Kind switch
    {
        "Pod" => PodFields,
        "Node" => NodeFields,
        "Event" => EventFields,
        "Namespace" => NamespaceFields,
        _ => Common,
    };

    public static bool Supports(ResourceType type, string field) => Supported(type).Contains(field);

    public static string? Get(IResource obj, string field) => field switch
    {
        "metadata.name" => obj.Metadata.Name,
        "metadata.namespace" => obj.Metadata.Namespace,
        _ => obj switch
        {
            Pod p => field switch
            {
                "spec.nodeName" => p.Spec.NodeName,
                "status.phase" => p.Status?.Phase,
                "status.podIP" => p.Status?.PodIP,
                "spec.restartPolicy" => p.Spec.RestartPolicy,
                _ => null,
            },
            Node n when field == "spec.unschedulable" => (n.Spec.Unschedulable ?? false) ? "true" : "false",
            Namespace ns when field == "status.phase" => ns.Status?.Phase,
            Event e => field switch
            {
                "involvedObject.kind" => e.InvolvedObject.Kind,
                "involvedObject.name" => e.InvolvedObject.Name,
                "involvedObject.namespace" => e.InvolvedObject.Namespace,
                "involvedObject.uid" => e.InvolvedObject.Uid,
                "reason" => e.Reason,
                "type" => e.EventType,
                _ => null,
            },
            _ => null,
        },
    };
}
