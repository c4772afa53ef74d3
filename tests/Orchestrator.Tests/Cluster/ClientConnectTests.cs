using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.Client.Hosting;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Cluster;

/// <summary>
/// A grain client (node agent or any .NET service) started before any silo keeps trying until
/// Orchestrator:ConnectTimeout, then fails to start with an error that says what to check, in
/// both profiles.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClientConnectTests(ClusterStoresFixture stores)
{
    /// <summary>Far beyond the 2 s connect timeout: the test fails rather than hangs if the
    /// client never gives up.</summary>
    private static readonly TimeSpan GiveUpDeadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AClusterClientStartedBeforeAnySiloGivesUpWithAClearError()
    {
        var clusterId = $"nosilo-{Guid.NewGuid():N}";

        var error = await StartClientAsync(new()
        {
            ["Orchestrator:Profile"] = "cluster",
            ["Orchestrator:ClusterId"] = clusterId,
            ["Orchestrator:Redis"] = stores.Redis.ConnectionString,
            ["Orchestrator:ConnectTimeout"] = "00:00:02",
        });

        Assert.Contains("Could not reach the control plane within 2 s", error.Message, StringComparison.Ordinal);
        Assert.Contains($"cluster \"{clusterId}\"", error.Message, StringComparison.Ordinal);
        Assert.Contains($"Redis at {stores.Redis.ConnectionString}", error.Message, StringComparison.Ordinal);
        Assert.Contains("Orchestrator:ConnectTimeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEmbeddedClientStartedBeforeItsSiloGivesUpWithAClearError()
    {
        var port = Ports.Free();

        var error = await StartClientAsync(new()
        {
            ["Orchestrator:Profile"] = "embedded",
            ["Orchestrator:GatewayPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orchestrator:ConnectTimeout"] = "00:00:02",
        });

        Assert.Contains("Could not reach the control plane within 2 s", error.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("Orchestrator:GatewayPort", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AClusterClientWhoseRedisIsDownGivesUpWithAClearError()
    {
        var error = await StartClientAsync(new()
        {
            ["Orchestrator:Profile"] = "cluster",
            ["Orchestrator:Redis"] = $"127.0.0.1:{Ports.Free()}",
            ["Orchestrator:ConnectTimeout"] = "00:00:02",
        });

        Assert.Contains("Could not reach the control plane within 2 s", error.Message, StringComparison.Ordinal);
    }

    /// <summary>An agent first joins through the API (Agent:Server); with no silo there it gives up
    /// after the same connect timeout, saying which setting names the API.</summary>
    [Fact]
    public async Task ANodeAgentProcessStartedBeforeAnySiloExitsWithTheError()
    {
        using var directory = new TempDirectory("orch-agent");
        var log = Path.Combine(directory.Path, "agent.log");
        var api = $"https://127.0.0.1:{Ports.Free()}";
        await using var agent = ChildProcess.Start("dotnet",
            [
                SiloProcess.AssemblyPath("node-agent", "Orchestrator.NodeAgent"),
                "--Orchestrator:Profile=cluster",
                $"--Orchestrator:ClusterId=nosilo-{Guid.NewGuid():N}",
                $"--Orchestrator:Redis={stores.Redis.ConnectionString}",
                "--Orchestrator:ConnectTimeout=00:00:02",
                $"--Agent:Server={api}",
                "--Agent:Token=K10" + new string('0', 64) + "::node:secret",
                $"--Agent:DataDirectory={directory.Path}",
                "--Agent:Runtime=fake",
                "--Agent:NodeName=early",
            ],
            log);

        await agent.WaitForExitAsync().WaitAsync(GiveUpDeadline);

        Assert.NotEqual(0, agent.ExitCode);
        Assert.Contains($"no API server answered within 2 s at {api}/ (Agent:Server)", agent.Tail(200), StringComparison.Ordinal);
    }

    private static async Task<ControlPlaneUnreachableException> StartClientAsync(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.SetMinimumLevel(LogLevel.Critical);
        // Credentials of their own: they are never used, since nothing answers.
        builder.AddOrchestratorClient(ForeignCredentials.Create());
        using var host = builder.Build();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ControlPlaneUnreachableException>(() => host.StartAsync().WaitAsync(GiveUpDeadline));
        // Within the 2 s connect timeout, plus at most one connect attempt (2 s) and a margin.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"gave up after {clock.Elapsed.TotalSeconds:0.#} s with a 2 s connect timeout");
        return error;
    }
}
