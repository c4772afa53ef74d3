namespace Orchestrator.Tests.Infrastructure;

/// <summary>An embedded-profile silo running as its own process, as a user runs it.</summary>
public sealed class SiloProcess : IDisposable
{
    private ChildProcess? _process;

    public SiloProcess(string dataDirectory, params string[] extraArgs)
    {
        DataDirectory = dataDirectory;
        ExtraArgs = extraArgs;
    }

    public string DataDirectory { get; }

    public string[] ExtraArgs { get; }

    public int HttpPort { get; } = Ports.Free();

    public int GatewayPort { get; } = Ports.Free();

    public int SiloPort { get; } = Ports.Free();

    public string ClusterId { get; } = $"proc-{Guid.NewGuid():N}";

    public ChildProcess Process => _process ?? throw new InvalidOperationException("not started");

    public HttpClient NewHttpClient() => new() { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}"), Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Starts the silo and waits until its API answers.</summary>
    public async Task StartAsync()
    {
        _process = ChildProcess.StartDotnet(Repository.SiloDll,
        [
            $"--urls=http://127.0.0.1:{HttpPort}",
            $"--Orchestrator:DataDirectory={DataDirectory}",
            $"--Orchestrator:SiloPort={SiloPort}",
            $"--Orchestrator:GatewayPort={GatewayPort}",
            $"--Orchestrator:ClusterId={ClusterId}",
            .. ControlPlaneFixture.FastSettings,
            .. ExtraArgs,
        ]);
        using var http = NewHttpClient();
        await Eventually.True(async () =>
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException("the silo exited:\n" + _process.Output);
            }
            var response = await http.GetAsync("/api/v1/namespaces/default");
            return response.IsSuccessStatusCode;
        }, "the silo's API to answer", TimeSpan.FromSeconds(60));
    }

    public void Kill9() => _process?.Kill9();

    public void Dispose() => _process?.Dispose();
}
