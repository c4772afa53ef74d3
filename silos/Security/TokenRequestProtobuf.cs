using Orchestrator.Model;

namespace Orchestrator.Silo.Security;

/// <summary>
/// Reads the protobuf TokenRequest that client-go's typed clients (kubectl create token) send
/// (Content-Type application/vnd.kubernetes.protobuf): the "k8s\0" magic, a runtime.Unknown
/// envelope whose field 2 holds the object, and of the object only its spec (audiences = 1,
/// boundObjectRef = 3 {kind 1, apiVersion 2, name 3, uid 4}, expirationSeconds = 4), as in
/// k8s.io/api/authentication/v1/generated.proto. The answer goes back as JSON, which the
/// client also accepts. Everything else in the message is skipped.
/// </summary>
public static class TokenRequestProtobuf
{
    public const string ContentType = "application/vnd.kubernetes.protobuf";

    private static ReadOnlySpan<byte> Magic => "k8s\0"u8;

    public static TokenRequest Decode(byte[] body)
    {
        if (!body.AsSpan().StartsWith(Magic))
        {
            throw ApiErrors.BadRequest("a protobuf body must start with the Kubernetes magic number");
        }
        var raw = Field(body.AsMemory(Magic.Length), 2) ?? throw ApiErrors.BadRequest("the protobuf envelope holds no object");
        var spec = Field(raw, 2);
        if (spec is not { } s)
        {
            return new TokenRequest();
        }
        var audiences = new List<string>();
        long? seconds = null;
        BoundObjectReference? bound = null;
        foreach (var (number, value, varint) in Fields(s))
        {
            switch (number)
            {
                case 1:
                    audiences.Add(Text(value));
                    break;
                case 3:
                    var r = Fields(value).ToList();
                    bound = new BoundObjectReference
                    {
                        Kind = TextOf(r, 1),
                        ApiVersion = TextOf(r, 2),
                        Name = TextOf(r, 3),
                        Uid = TextOf(r, 4),
                    };
                    break;
                case 4:
                    seconds = (long)varint;
                    break;
            }
        }
        return new TokenRequest
        {
            Spec = new TokenRequestSpec { Audiences = audiences.Count > 0 ? audiences : null, ExpirationSeconds = seconds, BoundObjectRef = bound },
        };
    }

    private static string Text(ReadOnlyMemory<byte> value) => System.Text.Encoding.UTF8.GetString(value.Span);

    private static string? TextOf(List<(int Number, ReadOnlyMemory<byte> Value, ulong Varint)> fields, int number) =>
        fields.Where(f => f.Number == number).Select(f => Text(f.Value)).LastOrDefault();

    private static ReadOnlyMemory<byte>? Field(ReadOnlyMemory<byte> message, int number)
    {
        ReadOnlyMemory<byte>? found = null;
        foreach (var f in Fields(message).Where(f => f.Number == number))
        {
            found = f.Value;
        }
        return found;
    }

    /// <summary>The fields of a message: number, bytes (length-delimited ones), value (varints).</summary>
    private static IEnumerable<(int Number, ReadOnlyMemory<byte> Value, ulong Varint)> Fields(ReadOnlyMemory<byte> message)
    {
        var pos = 0;
        while (pos < message.Length)
        {
            var tag = Varint(message.Span, ref pos);
            var number = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0:
                    yield return (number, default, Varint(message.Span, ref pos));
                    break;
                case 1:
                    pos += 8;
                    break;
                case 2:
                    var length = (int)Varint(message.Span, ref pos);
                    if (length < 0 || pos + length > message.Length)
                    {
                        throw ApiErrors.BadRequest("truncated protobuf body");
                    }
                    yield return (number, message.Slice(pos, length), 0);
                    pos += length;
                    break;
                case 5:
                    pos += 4;
                    break;
                default:
                    throw ApiErrors.BadRequest("unsupported protobuf wire type");
            }
        }
    }

    private static ulong Varint(ReadOnlySpan<byte> data, ref int pos)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (pos >= data.Length)
            {
                throw ApiErrors.BadRequest("truncated protobuf body");
            }
            var b = data[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
        throw ApiErrors.BadRequest("malformed protobuf varint");
    }
}
