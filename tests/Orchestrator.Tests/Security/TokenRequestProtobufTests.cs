using Orchestrator.Silo.Api;

namespace Orchestrator.Tests.Security;

/// <summary>Kubernetes' protobuf request bodies: the TokenRequest of kubectl create token, and what is refused.</summary>
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

        var decoded = KubernetesProtobuf.ToJson(body);

        Assert.Equal("""{"metadata":{"name":"default"},"spec":{"audiences":["vault","api"],"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"app","uid":"uid-1"},"expirationSeconds":7200},"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest"}""", decoded.ToJsonString());
        Assert.Equal(400, Assert.Throws<Orchestrator.Model.ApiException>(() => KubernetesProtobuf.ToJson([1, 2, 3])).Code);
    }

    [Fact]
    public void AKindWithoutProtobufSupportIs415AndAnUnknownFieldIs400()
    {
        var typeMeta = Message(Text(1, "apps/v1"), Text(2, "Deployment"));
        byte[] deployment = [.. "k8s\0"u8.ToArray(), .. Bytes(1, typeMeta), .. Bytes(2, Message(Text(1, "x")))];
        var reviewType = Message(Text(1, "authorization.k8s.io/v1"), Text(2, "SelfSubjectAccessReview"));
        byte[] review = [.. "k8s\0"u8.ToArray(), .. Bytes(1, reviewType), .. Bytes(2, Bytes(2, Text(9, "?")))];

        Assert.Equal(415, Assert.Throws<Orchestrator.Model.ApiException>(() => KubernetesProtobuf.ToJson(deployment)).Code);
        var unknown = Assert.Throws<Orchestrator.Model.ApiException>(() => KubernetesProtobuf.ToJson(review));
        Assert.Equal(400, unknown.Code);
        Assert.Equal("SelfSubjectAccessReview.spec: protobuf field 9 is not supported", unknown.Message);
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
