using Orchestrator.Silo.Security;

namespace Orchestrator.Tests.Security;

/// <summary>The protobuf TokenRequest of kubectl create token.</summary>
public sealed class TokenRequestProtobufTests
{
    [Fact]
    public void ReadsAudiencesExpirationAndBoundObjectAndSkipsTheRest()
    {
        var bound = Message(Text(1, "Pod"), Text(2, "v1"), Text(3, "app"), Text(4, "uid-1"));
        var spec = Message(Text(1, "vault"), Text(1, "api"), Bytes(3, bound), [0x20, .. Varint(7200)]);
        var request = Message(Bytes(1, Message(Text(1, "default"))), Bytes(2, spec));
        var typeMeta = Message(Text(1, "authentication.k8s.io/v1"), Text(2, "TokenRequest"));
        byte[] body = [.. "k8s\0"u8.ToArray(), .. Bytes(1, typeMeta), .. Bytes(2, request), .. Text(4, "application/vnd.kubernetes.protobuf")];

        var decoded = TokenRequestProtobuf.Decode(body);

        Assert.Equal(["vault", "api"], decoded.Spec.Audiences!);
        Assert.Equal(7200, decoded.Spec.ExpirationSeconds);
        Assert.Equal("Pod", decoded.Spec.BoundObjectRef!.Kind);
        Assert.Equal("app", decoded.Spec.BoundObjectRef.Name);
        Assert.Equal("uid-1", decoded.Spec.BoundObjectRef.Uid);
        Assert.Throws<Orchestrator.Model.ApiException>(() => TokenRequestProtobuf.Decode([1, 2, 3]));
    }

    private static byte[] Message(params byte[][] fields) => fields.SelectMany(f => f).ToArray();

    private static byte[] Text(int number, string value) => Bytes(number, System.Text.Encoding.UTF8.GetBytes(value));

    private static byte[] Bytes(int number, byte[] value) => [.. Varint((ulong)(number << 3 | 2)), .. Varint((ulong)value.Length), .. value];

    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? b : (byte)(b | 0x80));
        }
        while (value != 0);
        return [.. bytes];
    }
}
