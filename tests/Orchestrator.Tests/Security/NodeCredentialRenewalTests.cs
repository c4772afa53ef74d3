using System.Runtime.Versioning;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Model;
using Orchestrator.NodeAgent;
using Orchestrator.NodeAgent.Join;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Security;

/// <summary>A control plane that issues node credentials for 15 s (agents renew after 10 s) and
/// records the token of every grain call.</summary>
public sealed class ShortNodeCredentialsFixture : IAsyncLifetime
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(15);

    public GatewayTlsFixture.TokenRecorder Tokens { get; } = new();

    public ControlPlaneFixture ControlPlane { get; }

    public ShortNodeCredentialsFixture()
    {
        ControlPlane = new ControlPlaneFixture(
            [$"--Orchestrator:Security:NodeCredentialLifetime={Lifetime:c}"],
            services => services.AddSingleton<IIncomingGrainCallFilter>(Tokens));
    }

    public Task InitializeAsync() => ControlPlane.InitializeAsync();

    public Task DisposeAsync() => ControlPlane.DisposeAsync();
}

/// <summary>An agent renews its certificate and token with its node token when two thirds of
/// their lifetime have passed, stores them, and its calls switch to the new token.</summary>
[SupportedOSPlatform("linux")]
public sealed class NodeCredentialRenewalTests(ShortNodeCredentialsFixture fixture) : IClassFixture<ShortNodeCredentialsFixture>
{
    [Fact]
    public async Task AnAgentRenewsItsCredentialsAndItsCallsCarryTheNewToken()
    {
        var cp = fixture.ControlPlane;
        using var data = new TempDirectory("orch-renew");
        var node = $"renew-{Guid.NewGuid():N}"[..16];
        var stored = new NodeCredentialFile(data.Path);
        await using var agent = AgentProcess.Start(new NodeAgentOptions
        {
            NodeName = node,
            Runtime = "fake",
            DataDirectory = data.Path,
            NodeIP = "127.0.0.1",
            Cpu = "2",
            Memory = "4Gi",
        }, cp.GatewayPort, cp.ClusterId, cp.Join);
        try
        {
            var first = await Eventually.Until(() => Task.FromResult(stored.Load()), "the agent to join", TimeSpan.FromSeconds(60));
            Assert.Equal(first.IssuedAt + (first.ExpirationTimestamp - first.IssuedAt) * 2 / 3, first.RenewAt);

            var renewed = await Eventually.Until(() => Task.FromResult(stored.Load() is { } s && s.Token != first.Token ? s : null),
                "the agent to renew", ShortNodeCredentialsFixture.Lifetime + TimeSpan.FromSeconds(30));

            Assert.NotEqual(first.CertificatePem, renewed.CertificatePem);
            Assert.True(renewed.ExpirationTimestamp > first.ExpirationTimestamp);
            await Eventually.True(() => fixture.Tokens.Seen.Any(c => c.Token == renewed.Token), "a call with the renewed token", TimeSpan.FromSeconds(30));
            var ready = (await cp.Api.GetAsync<Node>($"/api/v1/nodes/{node}")).Status!.Conditions!.Single(c => c.Type == "Ready");
            Assert.Equal(ConditionStatus.True, ready.Status);
        }
        catch
        {
            Console.WriteLine(agent.Output);
            throw;
        }
    }
}
