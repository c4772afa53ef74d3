using System.Text.Json.Nodes;
using Google.Protobuf;
using Orchestrator.Model;

namespace Orchestrator.Silo.Api;

/// <summary>
/// Request bodies in Kubernetes' protobuf encoding (<c>application/vnd.kubernetes.protobuf</c>),
/// which kubectl's typed clients send and do not fall back from: the "k8s\0" envelope around a
/// runtime.Unknown that names the kind and carries its message, decoded into the JSON the rest of
/// the API reads, by the field numbers of Kubernetes' generated.proto. Only the kinds listed in
/// <see cref="Kinds"/> are understood (the ones kubectl's commands create through typed
/// clients); any other gets 415, as a kind without protobuf support does in Kubernetes. Status is
/// the server's to fill and is skipped; a field this decoder does not know is a 400 naming it.
/// </summary>
public static class KubernetesProtobuf
{
    public const string MediaType = "application/vnd.kubernetes.protobuf";

    private static readonly byte[] Magic = "k8s\0"u8.ToArray();

    private abstract record Field(string Name);

    private sealed record Text(string Name) : Field(Name);

    private sealed record Number(string Name) : Field(Name);

    private sealed record Texts(string Name) : Field(Name);

    private sealed record TextMap(string Name) : Field(Name);

    /// <summary>map&lt;string, ExtraValue&gt;: ExtraValue is a message of repeated strings (field 1).</summary>
    private sealed record TextListMap(string Name) : Field(Name);

    private sealed record Message(string Name, Dictionary<int, Field> Schema) : Field(Name);

    /// <summary>Read and dropped: what the server fills (status), or timestamps a client sends empty.</summary>
    private sealed record Skip(string Name) : Field(Name);

    private static readonly Dictionary<int, Field> ObjectMeta = new()
    {
        [1] = new Text("name"),
        [2] = new Text("generateName"),
        [3] = new Text("namespace"),
        // Written by gogo-protobuf even when empty (non-pointer fields); the server sets them.
        [4] = new Skip("selfLink"),
        [5] = new Text("uid"),
        [6] = new Text("resourceVersion"),
        [7] = new Skip("generation"),
        [8] = new Skip("creationTimestamp"),
        [11] = new TextMap("labels"),
        [12] = new TextMap("annotations"),
    };

    private static readonly Dictionary<int, Field> ResourceAttributes = new()
    {
        [1] = new Text("namespace"),
        [2] = new Text("verb"),
        [3] = new Text("group"),
        [4] = new Text("version"),
        [5] = new Text("resource"),
        [6] = new Text("subresource"),
        [7] = new Text("name"),
    };

    private static readonly Dictionary<int, Field> NonResourceAttributes = new()
    {
        [1] = new Text("path"),
        [2] = new Text("verb"),
    };

    private static Dictionary<int, Field> Review(Dictionary<int, Field> spec) => new()
    {
        [1] = new Message("metadata", ObjectMeta),
        [2] = new Message("spec", spec),
        [3] = new Skip("status"),
    };

    private static readonly Dictionary<int, Field> SelfSubjectAccessReviewSpec = new()
    {
        [1] = new Message("resourceAttributes", ResourceAttributes),
        [2] = new Message("nonResourceAttributes", NonResourceAttributes),
    };

    private static readonly Dictionary<int, Field> SubjectAccessReviewSpec = new()
    {
        [1] = new Message("resourceAttributes", ResourceAttributes),
        [2] = new Message("nonResourceAttributes", NonResourceAttributes),
        [3] = new Text("user"),
        [4] = new Texts("groups"),
        [5] = new TextListMap("extra"),
        [6] = new Text("uid"),
    };

    private static readonly Dictionary<int, Field> TokenRequestSpec = new()
    {
        [1] = new Texts("audiences"),
        [3] = new Message("boundObjectRef", new Dictionary<int, Field>
        {
            [1] = new Text("kind"),
            [2] = new Text("apiVersion"),
            [3] = new Text("name"),
            [4] = new Text("uid"),
        }),
        [4] = new Number("expirationSeconds"),
    };

    /// <summary>The kinds understood, by "apiVersion/kind".</summary>
    private static readonly Dictionary<string, Dictionary<int, Field>> Kinds = new(StringComparer.Ordinal)
    {
        ["authorization.k8s.io/v1/SelfSubjectAccessReview"] = Review(SelfSubjectAccessReviewSpec),
        ["authorization.k8s.io/v1/SubjectAccessReview"] = Review(SubjectAccessReviewSpec),
        ["authorization.k8s.io/v1/LocalSubjectAccessReview"] = Review(SubjectAccessReviewSpec),
        ["authorization.k8s.io/v1/SelfSubjectRulesReview"] = Review(new Dictionary<int, Field> { [1] = new Text("namespace") }),
        ["authentication.k8s.io/v1/TokenRequest"] = Review(TokenRequestSpec),
    };

    public static JsonObject ToJson(byte[] body)
    {
        if (body.Length < Magic.Length || !body.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw ApiErrors.BadRequest("the protobuf body does not start with Kubernetes' \"k8s\\0\" envelope");
        }
        string apiVersion = "", kind = "";
        ByteString raw = ByteString.Empty;
        try
        {
            var unknown = new CodedInputStream(body, Magic.Length, body.Length - Magic.Length);
            uint tag;
            while ((tag = unknown.ReadTag()) != 0)
            {
                switch (WireFormat.GetTagFieldNumber(tag))
                {
                    case 1:
                        var typeMeta = new CodedInputStream(unknown.ReadBytes().ToByteArray());
                        uint t;
                        while ((t = typeMeta.ReadTag()) != 0)
                        {
                            switch (WireFormat.GetTagFieldNumber(t))
                            {
                                case 1: apiVersion = typeMeta.ReadString(); break;
                                case 2: kind = typeMeta.ReadString(); break;
                                default: typeMeta.SkipLastField(); break;
                            }
                        }
                        break;
                    case 2:
                        raw = unknown.ReadBytes();
                        break;
                    default:
                        unknown.SkipLastField();
                        break;
                }
            }
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw ApiErrors.BadRequest($"the protobuf body is malformed: {ex.Message}");
        }
        if (!Kinds.TryGetValue($"{apiVersion}/{kind}", out var schema))
        {
            throw ApiErrors.UnsupportedMediaType($"{MediaType} (for {apiVersion} {kind}; send application/json)");
        }
        try
        {
            var json = Decode(new CodedInputStream(raw.ToByteArray()), schema, kind);
            json["apiVersion"] = apiVersion;
            json["kind"] = kind;
            return json;
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw ApiErrors.BadRequest($"the protobuf body of {kind} is malformed: {ex.Message}");
        }
    }

    private static JsonObject Decode(CodedInputStream input, Dictionary<int, Field> schema, string path)
    {
        var json = new JsonObject();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var number = WireFormat.GetTagFieldNumber(tag);
            if (!schema.TryGetValue(number, out var field))
            {
                throw ApiErrors.BadRequest($"{path}: protobuf field {number} is not supported");
            }
            switch (field)
            {
                case Text text:
                    var value = input.ReadString();
                    // gogo-protobuf writes every non-pointer string, empty or not.
                    if (value.Length > 0)
                    {
                        json[text.Name] = value;
                    }
                    break;
                case Number n:
                    json[n.Name] = input.ReadInt64();
                    break;
                case Texts list:
                    (json[list.Name] as JsonArray ?? (JsonArray)(json[list.Name] = new JsonArray())).Add(input.ReadString());
                    break;
                case TextMap map:
                    var (k, v) = ReadEntry(input, e => e.ReadString());
                    (json[map.Name] as JsonObject ?? (JsonObject)(json[map.Name] = new JsonObject()))[k] = v;
                    break;
                case TextListMap listMap:
                    var (key, values) = ReadEntry(input, ReadExtraValue);
                    (json[listMap.Name] as JsonObject ?? (JsonObject)(json[listMap.Name] = new JsonObject()))[key] = values;
                    break;
                case Message message:
                    var nested = Decode(new CodedInputStream(input.ReadBytes().ToByteArray()), message.Schema, $"{path}.{message.Name}");
                    if (nested.Count > 0)
                    {
                        json[message.Name] = nested;
                    }
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }
        return json;
    }

    /// <summary>A map entry: a message with the key as field 1 and the value as field 2.</summary>
    private static (string Key, TValue Value) ReadEntry<TValue>(CodedInputStream input, Func<CodedInputStream, TValue> readValue)
    {
        var entry = new CodedInputStream(input.ReadBytes().ToByteArray());
        var key = "";
        TValue value = default!;
        uint tag;
        while ((tag = entry.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: key = entry.ReadString(); break;
                case 2: value = readValue(entry); break;
                default: entry.SkipLastField(); break;
            }
        }
        return (key, value);
    }

    private static JsonArray ReadExtraValue(CodedInputStream input)
    {
        var message = new CodedInputStream(input.ReadBytes().ToByteArray());
        var items = new JsonArray();
        uint tag;
        while ((tag = message.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == 1)
            {
                items.Add(message.ReadString());
            }
            else
            {
                message.SkipLastField();
            }
        }
        return items;
    }
}
