using System.Text;
using System.Text.Json.Nodes;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Silo.Api;

namespace Orchestrator.Tests.Model;

public sealed class DecodingTests
{
    [Fact]
    public void UnknownFieldsAreAllReportedNotDropped()
    {
        var json = JsonNode.Parse("""
            {"metadata":{"name":"p","colour":"red"},
             "spec":{"containers":[{"name":"c","image":"i","imagePolicy":"x"}],"shareProcessNamespace":true}}
            """);
        var ex = Assert.Throws<ApiException>(() => ResourceJson.Decode<Pod>(json));
        Assert.Equal(400, ex.Code);
        var fields = ex.Status.Details!.Causes!.Select(c => c.Field).ToList();
        Assert.Equal(["metadata.colour", "spec.containers[0].imagePolicy", "spec.shareProcessNamespace"], fields);
        Assert.Contains("unknown field \"spec.shareProcessNamespace\"", ex.Status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongTypesNameTheField()
    {
        var json = JsonNode.Parse("""{"spec":{"replicas":"three","template":{"spec":{"containers":{}}},"paused":1}}""");
        var ex = Assert.Throws<ApiException>(() => ResourceJson.Decode<Deployment>(json));
        var messages = ex.Status.Details!.Causes!.ToDictionary(c => c.Field!, c => c.Message!);
        Assert.Contains("expected an integer", messages["spec.replicas"], StringComparison.Ordinal);
        Assert.Contains("expected an array", messages["spec.template.spec.containers"], StringComparison.Ordinal);
        Assert.Contains("expected a boolean", messages["spec.paused"], StringComparison.Ordinal);
    }

    [Fact]
    public void IntOrStringAndQuantitiesAcceptBothForms()
    {
        var json = JsonNode.Parse("""
            {"spec":{"ports":[{"port":80,"targetPort":"http"},{"name":"b","port":81,"targetPort":8081}]}}
            """);
        var svc = ResourceJson.Decode<Service>(json);
        Assert.Equal("http", svc.Spec.Ports![0].TargetPort!.Value.StringValue);
        Assert.Equal(8081, svc.Spec.Ports[1].TargetPort!.Value.IntValue);
        var yaml = Yaml.ToJson("spec:\n  containers:\n  - name: c\n    image: i\n    resources:\n      limits: {cpu: 1, memory: 64Mi}\n");
        var pod = ResourceJson.Decode<Pod>(yaml[0]);
        Assert.Equal(1000, pod.Spec.Containers[0].Resources!.Limits!["cpu"].MilliValue);
    }

    [Fact]
    public void YamlMultiDocumentAndTypes()
    {
        var docs = Yaml.ToJson("""
            ---
            a: 1
            b: "1"
            c: true
            d: ~
            e: 1.5
            f: hello
            ---
            # empty document above is skipped
            ---
            g: [1, two]
            """);
        Assert.Equal(2, docs.Count);
        Assert.Equal("""{"a":1,"b":"1","c":true,"d":null,"e":1.5,"f":"hello"}""", docs[0].ToJsonString());
        Assert.Equal("""{"g":[1,"two"]}""", docs[1].ToJsonString());
    }

    [Fact]
    public void MalformedYamlSaysWhere()
    {
        var ex = Assert.Throws<ApiException>(() => Yaml.ToJson("a: [1, 2\nb: c"));
        Assert.Equal(400, ex.Code);
        Assert.Contains("not valid YAML", ex.Status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void YamlBombsAreRefused()
    {
        var sb = new StringBuilder("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (var i = 0; i < 8; i++)
        {
            sb.Append($"{(char)('b' + i)}: &{(char)('b' + i)} [*{(char)('a' + i)},*{(char)('a' + i)},*{(char)('a' + i)},*{(char)('a' + i)},*{(char)('a' + i)},*{(char)('a' + i)},*{(char)('a' + i)},*{(char)('a' + i)},*{(char)('a' + i)},*{(char)('a' + i)}]\n");
        }
        var ex = Assert.Throws<ApiException>(() => Yaml.ToJson(sb.ToString()));
        Assert.Contains("expands to more than", ex.Status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TimesAreRfc3339InUtc()
    {
        var ev = new Event { FirstTimestamp = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)) };
        Assert.Contains("\"firstTimestamp\":\"2026-01-02T01:04:05Z\"", ResourceJson.SerializeToString(ev), StringComparison.Ordinal);
    }
}
