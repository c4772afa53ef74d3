using System.Text.Json.Nodes;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.Tests.Model;

/// <summary>Kubernetes' strategic merge patch on our model: merge keys as the model declares them,
/// each directive, nested lists, null deletion and lists of scalars. Expected results follow
/// Kubernetes' strategicpatch package.</summary>
public sealed class StrategicMergePatchTests
{
    private const string TwoContainerPod = """
        {"metadata":{"name":"p","labels":{"a":"1","b":"2"},"finalizers":["x","y"]},
         "spec":{"containers":[
            {"name":"web","image":"web:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
             "ports":[{"containerPort":80,"protocol":"TCP"}],"command":["a","b"]},
            {"name":"side","image":"side:1"}],
          "tolerations":[{"key":"k1","operator":"Exists"}]}}
        """;

    private static JsonNode Patch(string target, string patch, Type? type = null) =>
        StrategicMergePatch.Apply(JsonNode.Parse(target)!, JsonNode.Parse(patch)!, type ?? typeof(Pod));

    private static void AssertJson(string expected, JsonNode actual) =>
        Assert.Equal(JsonNode.Parse(expected)!.ToJsonString(), actual.ToJsonString());

    private static JsonArray Containers(JsonNode pod) => pod["spec"]!["containers"]!.AsArray();

    [Fact]
    public void ContainersMergeByNameAndKeepTheOthers()
    {
        var result = Patch(TwoContainerPod, """{"spec":{"containers":[{"name":"side","image":"side:2"}]}}""");
        Assert.Equal(["web", "side"], Containers(result).Select(c => (string)c!["name"]!));
        Assert.Equal("side:2", (string)Containers(result)[1]!["image"]!);
        Assert.Equal("web:1", (string)Containers(result)[0]!["image"]!);
    }

    [Fact]
    public void NestedListsMergeByTheirOwnKeys()
    {
        var result = Patch(TwoContainerPod, """
            {"spec":{"containers":[{"name":"web","env":[{"name":"B","value":"3"},{"name":"C","value":"4"}],"ports":[{"containerPort":8080}]}]}}
            """);
        var web = Containers(result)[0]!;
        AssertJson("""[{"name":"A","value":"1"},{"name":"B","value":"3"},{"name":"C","value":"4"}]""", web["env"]!);
        // Kubernetes' mergeSortedSlice: a new element with no place in the live list goes before
        // the server-only ones (kubectl sends $setElementOrder when the order matters).
        AssertJson("""[{"containerPort":8080},{"containerPort":80,"protocol":"TCP"}]""", web["ports"]!);
    }

    [Fact]
    public void ListsWithoutAStrategyAreReplaced()
    {
        var result = Patch(TwoContainerPod, """{"spec":{"containers":[{"name":"web","command":["c"]}],"tolerations":[{"key":"k2","operator":"Exists"}]}}""");
        AssertJson("""["c"]""", Containers(result)[0]!["command"]!);
        AssertJson("""[{"key":"k2","operator":"Exists"}]""", result["spec"]!["tolerations"]!);
    }

    [Fact]
    public void NullDeletesAKey()
    {
        var result = Patch(TwoContainerPod, """{"metadata":{"labels":{"a":null}},"spec":{"containers":[{"name":"web","command":null}]}}""");
        AssertJson("""{"b":"2"}""", result["metadata"]!["labels"]!);
        Assert.False(Containers(result)[0]!.AsObject().ContainsKey("command"));
    }

    [Fact]
    public void PatchDeleteInAListElementRemovesThatElement()
    {
        var result = Patch(TwoContainerPod, """{"spec":{"containers":[{"name":"web","env":[{"name":"A","$patch":"delete"}]},{"name":"side","$patch":"delete"}]}}""");
        Assert.Equal(["web"], Containers(result).Select(c => (string)c!["name"]!));
        AssertJson("""[{"name":"B","value":"2"}]""", Containers(result)[0]!["env"]!);
    }

    [Fact]
    public void PatchReplaceInAListReplacesTheWholeList()
    {
        var result = Patch(TwoContainerPod, """{"spec":{"containers":[{"name":"only","image":"o:1"},{"$patch":"replace"}]}}""");
        AssertJson("""[{"name":"only","image":"o:1"}]""", Containers(result));
    }

    [Fact]
    public void PatchReplaceInAMapReplacesTheMap()
    {
        var result = Patch(TwoContainerPod, """{"metadata":{"labels":{"c":"3","$patch":"replace"}}}""");
        AssertJson("""{"c":"3"}""", result["metadata"]!["labels"]!);
    }

    [Fact]
    public void PatchDeleteInAMapRemovesTheMap()
    {
        var result = Patch(TwoContainerPod, """{"metadata":{"labels":{"$patch":"delete"}}}""");
        Assert.False(result["metadata"]!.AsObject().ContainsKey("labels"));
    }

    [Fact]
    public void PatchMergeIsTheDefault()
    {
        var result = Patch(TwoContainerPod, """{"metadata":{"labels":{"c":"3","$patch":"merge"}}}""");
        AssertJson("""{"a":"1","b":"2","c":"3"}""", result["metadata"]!["labels"]!);
    }

    [Fact]
    public void AnUnknownPatchDirectiveIsABadRequest()
    {
        var ex = Assert.Throws<ApiException>(() => Patch(TwoContainerPod, """{"metadata":{"labels":{"$patch":"explode"}}}"""));
        Assert.Equal(400, ex.Code);
        Assert.StartsWith("Unknown patch type: explode in map:", ex.Status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMergeListElementWithoutItsKeyIsABadRequest()
    {
        var ex = Assert.Throws<ApiException>(() => Patch(TwoContainerPod, """{"spec":{"containers":[{"image":"x"}]}}"""));
        Assert.Equal(400, ex.Code);
        Assert.EndsWith("does not contain declared merge key: name", ex.Status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ScalarListsWithMergeStrategyMergeAsASet()
    {
        var result = Patch(TwoContainerPod, """{"metadata":{"finalizers":["y","z"]}}""");
        AssertJson("""["x","y","z"]""", result["metadata"]!["finalizers"]!);
    }

    [Fact]
    public void DeleteFromPrimitiveListRemovesThoseValues()
    {
        var result = Patch(TwoContainerPod, """{"metadata":{"$deleteFromPrimitiveList/finalizers":["x"]}}""");
        AssertJson("""["y"]""", result["metadata"]!["finalizers"]!);
    }

    [Fact]
    public void SetElementOrderOrdersTheMergedList()
    {
        var result = Patch(TwoContainerPod, """
            {"spec":{"$setElementOrder/containers":[{"name":"side"},{"name":"web"}],"containers":[{"name":"web","image":"web:2"}]}}
            """);
        Assert.Equal(["side", "web"], Containers(result).Select(c => (string)c!["name"]!));
        Assert.Equal("web:2", (string)Containers(result)[1]!["image"]!);
    }

    [Fact]
    public void ServerOnlyElementsKeepTheirPlaceAmongOrderedOnes()
    {
        // kubectl's three-way patch names the elements it manages in $setElementOrder; one added
        // by someone else (here "mid") stays where it was relative to the others.
        var pod = """{"spec":{"containers":[{"name":"a"},{"name":"mid"},{"name":"b"}]}}""";
        var result = Patch(pod, """{"spec":{"$setElementOrder/containers":[{"name":"a"},{"name":"b"},{"name":"c"}],"containers":[{"name":"c"}]}}""");
        Assert.Equal(["a", "mid", "b", "c"], Containers(result).Select(c => (string)c!["name"]!));
    }

    [Fact]
    public void RetainKeysClearsTheKeysItDoesNotName()
    {
        var deployment = """{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}}""";
        var result = Patch(deployment, """{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}""", typeof(Deployment));
        AssertJson("""{"type":"Recreate"}""", result["spec"]!["strategy"]!);
    }

    [Fact]
    public void ServicePortsMergeByPort()
    {
        var service = """{"spec":{"ports":[{"port":80,"targetPort":8080},{"port":443}]}}""";
        var result = Patch(service, """{"spec":{"ports":[{"port":80,"targetPort":9090}]}}""", typeof(Service));
        AssertJson("""[{"port":80,"targetPort":9090},{"port":443}]""", result["spec"]!["ports"]!);
    }

    [Fact]
    public void TemplatesInsideDeploymentsFollowThePodsKeys()
    {
        var deployment = """{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]}}}}""";
        var result = Patch(deployment, """{"spec":{"template":{"spec":{"containers":[{"name":"b","image":"b:2"}]}}}}""", typeof(Deployment));
        AssertJson("""[{"name":"a","image":"a:1"},{"name":"b","image":"b:2"}]""", result["spec"]!["template"]!["spec"]!["containers"]!);
    }

    [Fact]
    public void DirectivesNeverReachTheResult()
    {
        var result = Patch("""{"spec":{"containers":[]}}""", """{"spec":{"containers":[{"name":"n","env":[{"name":"E","$patch":"merge"}],"$setElementOrder/env":[{"name":"E"}]}]}}""");
        Assert.DoesNotContain("$", result.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public void TheMergeKeysAreReadFromTheModel()
    {
        var containers = PatchSchema.Of(typeof(PodSpec)).Field("containers")!;
        Assert.True(containers.MergesList);
        Assert.Equal("name", containers.Strategy!.MergeKey);
        Assert.Equal("containerPort", PatchSchema.Of(typeof(Container)).Field("ports")!.Strategy!.MergeKey);
        Assert.Null(PatchSchema.Of(typeof(PodSpec)).Field("tolerations")!.Strategy);
        Assert.Same(PatchSchema.Of(typeof(PodSpec)), PatchSchema.Of(typeof(PodSpec)));
    }
}
