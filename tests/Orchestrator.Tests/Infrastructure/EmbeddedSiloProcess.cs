using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Infrastructure;

/// <summary>An embedded-profile silo running as its own process, as a user runs it.</summary>
public sealed class EmbeddedSiloProcess(string dataDirectory, params string[] extraArgs) : IAsyncDisposable
{
    private ChildProcess? _process;

    public int HttpPort { get; } = Ports.Free();

    public int GatewayPort { get; } = Ports.Free();

    public int SiloPort { get; } = Ports.Free();

    public string ClusterId { get; } = $"proc-{Guid.NewGuid():N}";

    public string KubeconfigPath => Path.Combine(dataDirectory, "admin.kubeconfig");

    /// <summary>A client of the API as the admin of the silo's kubeconfig.</summary>
    public HttpClient NewHttpClient() => Kubeconfig.AdminClient($"https://127.0.0.1:{HttpPort}", KubeconfigPath, TimeSpan.FromSeconds(30));

    /// <summary>Starts the silo and waits until its API answers.</summary>
    public async Task StartAsync()
    {
        _process = ChildProcess.Start("dotnet",
        [
            Repository.SiloDll,
            $"--urls=https://127.0.0.1:{HttpPort}",
            $"--Orchestrator:DataDirectory={dataDirectory}",
            $"--Orchestrator:SiloPort={SiloPort}",
            $"--Orchestrator:GatewayPort={GatewayPort}",
            $"--Orchestrator:ClusterId={ClusterId}",
            .. ControlPlaneFixture.FastSettings,
            .. extraArgs,
        ], Path.Combine(dataDirectory, $"silo-{HttpPort}.log"));
        using var http = NewHttpClient();
        await Eventually.True(async () =>
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException("the silo exited:\n" + _process.Tail());
            }
            var response = await http.GetAsync("/api/v1/namespaces/default");
            return response.IsSuccessStatusCode;
        }, "the silo's API to answer", TimeSpan.FromSeconds(60));
    }

    /// <summary>SIGKILL: no chance to flush, close or say goodbye.</summary>
    public Task Kill9Async() => _process?.KillAsync() ?? Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.KillAsync();
            await _process.DisposeAsync();
        }
    }
}
