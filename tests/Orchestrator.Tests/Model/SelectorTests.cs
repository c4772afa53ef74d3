using Orchestrator.Model;
using Orchestrator.Selectors;

namespace Orchestrator.Tests.Model;

public sealed class SelectorTests
{
    private static readonly Dictionary<string, string> Labels = new() { ["app"] = "web", ["tier"] = "front", ["env"] = "prod" };

    [Theory]
    [InlineData("app=web", true)]
    [InlineData("app==web", true)]
    [InlineData("app!=web", false)]
    [InlineData("app=web,tier=back", false)]
    [InlineData("tier in (front,back)", true)]
    [InlineData("tier notin (front)", false)]
    [InlineData("env", true)]
    [InlineData("!env", false)]
    [InlineData("!missing", true)]
    [InlineData("missing!=x", true)]
    [InlineData(" app = web , env in ( prod ) ", true)]
    [InlineData("", true)]
    public void MatchesAsKubernetes(string selector, bool matches) => Assert.Equal(matches, Selector.Parse(selector).Matches(Labels));

    [Theory]
    [InlineData("app=web,")]
    [InlineData("app in web")]
    [InlineData("app in (a")]
    [InlineData("app =~ x")]
    [InlineData("bad key=x")]
    [InlineData("app=bad value")]
    public void RejectsMalformedSelectors(string selector)
    {
        var ex = Assert.Throws<ApiException>(() => Selector.Parse(selector));
        Assert.Equal(400, ex.Code);
        Assert.Contains("labelSelector", ex.Status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FieldSelectorsNameTheUnsupportedField()
    {
        var ex = Assert.Throws<ApiException>(() => FieldSelector.Parse("spec.hostname=x", ResourceTypes.Pod));
        Assert.Contains("spec.hostname", ex.Status.Message, StringComparison.Ordinal);
        var pod = new Pod { Metadata = new ObjectMeta { Name = "p" }, Spec = new PodSpec { NodeName = "n1" }, Status = new PodStatus { Phase = "Running" } };
        Assert.True(FieldSelector.Parse("spec.nodeName=n1,status.phase!=Pending", ResourceTypes.Pod).Matches(pod));
        Assert.False(FieldSelector.Parse("metadata.name=q", ResourceTypes.Pod).Matches(pod));
    }

    [Fact]
    public void SpecSelectorsConvert()
    {
        var spec = new LabelSelector
        {
            MatchLabels = new Dictionary<string, string> { ["app"] = "web" },
            MatchExpressions = [new LabelSelectorRequirement { Key = "env", Operator = "In", Values = ["prod", "stage"] }],
        };
        Assert.True(Selector.From(spec).Matches(Labels));
        Assert.Equal("app=web,env in (prod,stage)", Selector.From(spec).ToString());
    }
}
