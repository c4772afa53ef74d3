using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.Client;
using Orchestrator.Client.Hosting;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Security;
using Orchestrator.Model;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Security;

/// <summary>A control plane whose silo records the bearer token of every grain call that comes
/// in with one, to see what clients send.</summary>
public sealed class GatewayTlsFixture : IAsyncLifetime
{
    public TokenRecorder Tokens { get; } = new();

    public ControlPlaneFixture ControlPlane { get; }

    public GatewayTlsFixture()
    {
        ControlPlane = new ControlPlaneFixture([], services => services.AddSingleton<IIncomingGrainCallFilter>(Tokens));
    }

    public Task InitializeAsync() => ControlPlane.InitializeAsync();

    public Task DisposeAsync() => ControlPlane.DisposeAsync();

    /// <summary>Notes the token of each incoming call by the grain method it called.</summary>
    public sealed class TokenRecorder : IIncomingGrainCallFilter
    {
        public ConcurrentQueue<(string Method, string Token)> Seen { get; } = new();

        public Task Invoke(IIncomingGrainCallContext context)
        {
            if (RequestContext.Get(CallCredentials.TokenKey) is string token)
            {
                Seen.Enqueue((context.InterfaceMethod?.Name ?? "", token));
            }
            return context.Invoke();
        }
    }
}

/// <summary>
/// The silo's gateway admits only mutual-TLS connections with a client certificate of the cluster
/// CA: a plain-TCP Orleans client, or one with another CA's certificate, cannot connect and so
/// cannot call a grain (and nothing changes); a client with the admin kubeconfig connects, and
/// every call it makes carries the kubeconfig's token.
/// </summary>
public sealed class GatewayTlsTests(GatewayTlsFixture fixture) : IClassFixture<GatewayTlsFixture>
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);

    private ControlPlaneFixture Cp => fixture.ControlPlane;

    private Dictionary<string, string?> Settings(string connectTimeout = "00:00:03") => new()
    {
        ["Orchestrator:Profile"] = "embedded",
        ["Orchestrator:GatewayPort"] = Cp.GatewayPort.ToString(CultureInfo.InvariantCulture),
        ["Orchestrator:ClusterId"] = Cp.ClusterId,
        ["Orchestrator:ConnectTimeout"] = connectTimeout,
    };

    private static IHost Build(Dictionary<string, string?> settings, Action<HostApplicationBuilder> add)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        Orchestrator.Tests.Infrastructure.Logging.TestLoggerProvider.ReplaceConsole(builder.Services, "client");
        add(builder);
        return builder.Build();
    }

    private async Task AssertNamespaceAbsentAsync(string name) =>
        Assert.Equal(HttpStatusCode.NotFound, (await Cp.Api.Http.GetAsync($"/api/v1/namespaces/{name}")).StatusCode);

    private static Namespace NewNamespace(string name) => new() { Metadata = new ObjectMeta { Name = name } };

    [Fact]
    public async Task APlainTcpConnectionIsClosedByTheGateway()
    {
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, Cp.GatewayPort);
        var stream = socket.GetStream();
        // What an Orleans client sends first: its preamble, a length-prefixed block, in the clear.
        await stream.WriteAsync(new byte[] { 16, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 });

        var buffer = new byte[256];
        var read = await ReadToEndAsync(stream, buffer).WaitAsync(StartDeadline);

        // The gateway answers no Orleans preamble: it closes the connection at the TLS handshake.
        Assert.Equal(0, read);
    }

    private static async Task<int> ReadToEndAsync(System.Net.Sockets.NetworkStream stream, byte[] buffer)
    {
        var total = 0;
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                total += n;
            }
        }
        catch (IOException)
        {
            // Reset rather than closed: cut off all the same.
        }
        return total;
    }

    [Fact]
    public async Task APlainTcpOrleansClientNeverConnectsAndChangesNothing()
    {
        var name = $"plain-{Guid.NewGuid():N}"[..20];
        using var host = Build(Settings(), b => b.Services.AddOrleansClient(c => c.UseLocalhostClustering(Cp.GatewayPort, "orchestrator", Cp.ClusterId)));
        // Orleans retries the gateway by itself; every attempt is cut off, so the start never completes.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => host.StartAsync(deadline.Token));

        await AssertNamespaceAbsentAsync(name);
    }

    [Fact]
    public async Task AClientWithACertificateOfAnotherCaIsCutOffAtTheHandshake()
    {
        var name = $"foreign-{Guid.NewGuid():N}"[..20];
        var admin = ClientCredentials.FromKubeconfig(Cp.KubeconfigPath);
        // It trusts the real CA and even carries the admin token: only its certificate is foreign.
        var foreign = ForeignCredentials.Create();
        var credentials = new ClientCredentials(admin.CaCertificate, foreign.Certificate, admin.Token);
        using var host = Build(Settings(), b => b.AddOrchestratorClient(credentials));

        var error = await Assert.ThrowsAsync<ControlPlaneUnreachableException>(() => host.StartAsync().WaitAsync(StartDeadline));

        Assert.Contains("Could not reach the control plane", error.Message, StringComparison.Ordinal);
        await AssertNamespaceAbsentAsync(name);
    }

    [Fact]
    public async Task AnExpiredCertificateOfTheClusterCaIsCutOffToo()
    {
        var admin = ClientCredentials.FromKubeconfig(Cp.KubeconfigPath);
        var ca = Cp.Services.GetRequiredService<ClusterCredentials>().Ca;
        // Issued two days ago for one day: expired yesterday.
        using var expired = ca.IssueClient(SystemUsers.Admin, [SystemGroups.Masters], DateTimeOffset.UtcNow.AddDays(-2), TimeSpan.FromDays(1));
        using var host = Build(Settings(), b => b.AddOrchestratorClient(new ClientCredentials(admin.CaCertificate, expired, admin.Token)));

        await Assert.ThrowsAsync<ControlPlaneUnreachableException>(() => host.StartAsync().WaitAsync(StartDeadline));
    }

    [Fact]
    public async Task AClientThatDoesNotTrustTheGatewaysCaDoesNotConnect()
    {
        var admin = ClientCredentials.FromKubeconfig(Cp.KubeconfigPath);
        // The right certificate, but another CA to check the gateway against.
        var credentials = new ClientCredentials(ForeignCredentials.Create().CaCertificate, admin.Certificate, admin.Token);
        using var host = Build(Settings(), b => b.AddOrchestratorClient(credentials));

        await Assert.ThrowsAsync<ControlPlaneUnreachableException>(() => host.StartAsync().WaitAsync(StartDeadline));
    }

    [Fact]
    public async Task AClientWithTheAdminKubeconfigCallsGrainsAndEveryCallCarriesItsToken()
    {
        var name = $"kc-{Guid.NewGuid():N}"[..20];
        var settings = Settings("00:00:20");
        settings["Orchestrator:Kubeconfig"] = Cp.KubeconfigPath;
        using var host = Build(settings, b => b.AddOrchestratorClient());
        await host.StartAsync().WaitAsync(StartDeadline);
        try
        {
            var client = host.Services.GetRequiredService<IOrchestratorClient>();

            await client.Namespaces().CreateAsync(NewNamespace(name));

            var created = await Cp.Api.GetAsync<Namespace>($"/api/v1/namespaces/{name}");
            Assert.Equal(name, created.Metadata.Name);
            var token = Kubeconfig.Read(Cp.KubeconfigPath).Token;
            var calls = fixture.Tokens.Seen.ToList();
            Assert.Contains(calls, c => c.Token == token);
            Assert.All(calls, c => Assert.Equal(token, c.Token));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task AClientWithoutCredentialsFailsItsStartNamingTheSetting()
    {
        using var host = Build(Settings(), b => b.AddOrchestratorClient());

        var error = await Assert.ThrowsAsync<ClientCredentialsException>(() => host.StartAsync().WaitAsync(StartDeadline));

        Assert.Contains("Orchestrator:Kubeconfig", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheAdminKubeconfigHoldsAClientCertificateOfTheAdmin()
    {
        var credentials = ClientCredentials.FromKubeconfig(Cp.KubeconfigPath);
        var ca = Cp.Services.GetRequiredService<ClusterCredentials>().Ca;

        Assert.True(credentials.Certificate.HasPrivateKey);
        Assert.True(ca.IsClientCertificate(credentials.Certificate, DateTimeOffset.UtcNow));
        Assert.Equal(SystemUsers.Admin, credentials.Certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
        Assert.Contains("O=system:masters", credentials.Certificate.Subject, StringComparison.Ordinal);
        Assert.Equal(Kubeconfig.Read(Cp.KubeconfigPath).Token, credentials.Token);
    }
}
