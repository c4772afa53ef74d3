using System.Net;
using Orchestrator.Grains;
using Orchestrator.Model;
using Orchestrator.Validation;

namespace Orchestrator.Tests.Model;

/// <summary>CIDRs as the settings, the node validation and the allocators read them.</summary>
public sealed class CidrTests
{
    [Theory]
    [InlineData("10.96.0.0/12", "10.96.0.0/12")]
    [InlineData("10.96.0.1/12", "10.96.0.0/12")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    [InlineData("192.168.7.9/32", "192.168.7.9/32")]
    public void ParsesIPv4NetworksAndClearsTheHostBits(string text, string network)
    {
        Assert.True(Cidr.TryParse(text, out var cidr));
        Assert.Equal(network, cidr.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("10.0.0.0")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.0/-1")]
    [InlineData(" 10.0.0.0/8")]
    [InlineData("10.0.0.0/ 8")]
    [InlineData("fd00::/8")]
    [InlineData("not-a-cidr")]
    public void RefusesWhatIsNotAnIPv4Network(string? text) => Assert.False(Cidr.TryParse(text, out _));

    [Fact]
    public void KnowsItsAddresses()
    {
        var cidr = Cidr.Parse("10.96.0.0/12");
        Assert.Equal(1UL << 20, cidr.Size);
        Assert.True(cidr.Contains("10.111.255.255"));
        Assert.False(cidr.Contains("10.112.0.0"));
        Assert.Equal(IPAddress.Parse("10.96.1.2"), cidr.At(258));
        Assert.Equal("10.96.16.0/20", cidr.Subnet(20, 1).ToString());
    }

    [Fact]
    public void ABadNodePodCidrIsRefusedNamingTheField()
    {
        var node = new Node { Metadata = new ObjectMeta { Name = "n1" }, Spec = new NodeSpec { PodCIDR = "10.244.1.0/33" } };
        var error = Assert.Single(Validator.Validate(Node.ApplyDefaults(node), null));
        Assert.Equal("spec.podCIDR", error.Field);
    }

    [Fact]
    public void BadSettingsAreRefusedNamingTheSetting()
    {
        var result = new ControlPlaneOptionsValidator().Validate(null, new ControlPlaneOptions { ServiceCidr = "10.96.0.0", ClusterCidr = "fd00::/8" });
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.StartsWith("Orchestrator:ServiceCidr \"10.96.0.0\"", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.StartsWith("Orchestrator:ClusterCidr \"fd00::/8\"", StringComparison.Ordinal));
    }
}
