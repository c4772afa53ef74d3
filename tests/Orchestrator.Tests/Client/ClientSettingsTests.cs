using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orchestrator.Client.Hosting;

namespace Orchestrator.Tests.Client;

/// <summary>The "Orchestrator" settings every process reads the same way: bad values are refused
/// at once, each named by its key.</summary>
public sealed class ClientSettingsTests
{
    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    [Fact]
    public void ClusterSettingsAreReadFromTheOrchestratorSection()
    {
        var settings = ClusterSettings.From(Configuration(new()
        {
            ["Orchestrator:Profile"] = "cluster",
            ["Orchestrator:ClusterId"] = "prod",
            ["Orchestrator:Redis"] = "redis:6379",
            ["Orchestrator:GatewayPort"] = "31000",
        }));

        Assert.True(settings.IsCluster);
        Assert.Equal(("prod", "orchestrator", 31000, "redis:6379"), (settings.ClusterId, settings.ServiceId, settings.GatewayPort, settings.Redis));
    }

    [Fact]
    public void BadClusterSettingsAreRefusedNamingEachKey()
    {
        var error = Assert.Throws<OptionsValidationException>(() => ClusterSettings.From(Configuration(new()
        {
            ["Orchestrator:Profile"] = "clustr",
            ["Orchestrator:GatewayPort"] = "0",
        })));

        Assert.Contains("Orchestrator:Profile \"clustr\" must be \"embedded\" or \"cluster\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("Orchestrator:GatewayPort", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AClientResponseTimeoutShorterThanAWatchPollIsRefused()
    {
        var services = new ServiceCollection();

        var error = Assert.Throws<OptionsValidationException>(() => services.AddOrchestratorClient(Configuration(new()
        {
            ["Orchestrator:ResponseTimeout"] = "00:00:05",
        })));

        Assert.Contains("Orchestrator:ResponseTimeout", error.Message, StringComparison.Ordinal);
    }
}
