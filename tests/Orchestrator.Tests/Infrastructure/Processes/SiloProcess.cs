using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Orchestrator.Tests.Infrastructure.Processes;

/// <summary>
/// A control-plane silo run as a real process (<c>dotnet silos/bin/{configuration}/net10.0/Orchestrator.Silo.dll</c>)
/// in the cluster profile, on free loopback ports.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private SiloProcess(ChildProcess process, int httpPort, int siloPort, int gatewayPort, string kubeconfigPath, string nodeTokenPath)
    {
        NodeTokenPath = nodeTokenPath;
        KubeconfigPath = kubeconfigPath;
        Process = process;
        HttpPort = httpPort;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        Http = Kubeconfig.AdminClient($"https://127.0.0.1:{httpPort}", kubeconfigPath, TimeSpan.FromSeconds(60));
    }

    public ChildProcess Process { get; }

    public int HttpPort { get; }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    /// <summary>The admin kubeconfig this silo writes when its API starts (every silo of a
    /// cluster has the same CA and admin token: they are stored in PostgreSQL).</summary>
    public string KubeconfigPath { get; }

    /// <summary>The node bootstrap token this silo writes at start (every silo of a cluster the same).</summary>
    public string NodeTokenPath { get; }

    /// <summary>A client of this silo's HTTP API, as the admin.</summary>
    public HttpClient Http { get; }

    public string Name => $"silo :{SiloPort} (http :{HttpPort}, pid {Process.Pid})";

    /// <summary>Whether Orleans' <c>SiloAddress</c> <paramref name="address"/> is this silo.</summary>
    public bool Is(object? address) =>
        address is Orleans.Runtime.SiloAddress s && s.Endpoint.Port == SiloPort && Equals(s.Endpoint.Address, IPAddress.Loopback);

    /// <summary>Path of a built project's main assembly: tests run from
    /// tests/Orchestrator.Tests/bin/{configuration}/net10.0, the silo lives in silos/bin/{configuration}/net10.0.</summary>
    public static string AssemblyPath(string projectFolder, string assemblyName)
    {
        var here = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var framework = Path.GetFileName(here);
        var configuration = Path.GetFileName(Path.GetDirectoryName(here)!);
        var root = here;
        while (root is not null && !File.Exists(Path.Combine(root, "Orchestrator.sln")))
        {
            root = Path.GetDirectoryName(root);
        }
        if (root is null)
        {
            throw new InvalidOperationException($"Could not find Orchestrator.sln above {here}.");
        }
        var path = Path.Combine(root, projectFolder, "bin", configuration, framework, assemblyName + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is missing: build the solution ({configuration}) first.", path);
    }

    /// <summary>Starts a silo; returns once its process runs (see <see cref="WaitReadyAsync"/>).</summary>
    /// <param name="settings">--Key=Value arguments shared by the cluster's silos.</param>
    /// <param name="logPath">Where its output goes.</param>
    /// <param name="ports">(http, silo, gateway) ports; free ones when null.</param>
    public static SiloProcess Start(IEnumerable<string> settings, string logPath, (int Http, int Silo, int Gateway)? ports = null)
    {
        var (http, silo, gateway) = ports ?? (Ports.Free(), Ports.Free(), Ports.Free());
        var kubeconfig = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(logPath))!, $"kubeconfig-{http}");
        var nodeToken = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(logPath))!, $"node-token-{http}");
        string[] args =
        [
            AssemblyPath("silos", "Orchestrator.Silo"),
            $"--urls=https://127.0.0.1:{http}",
            $"--Orchestrator:Security:Kubeconfig={kubeconfig}",
            $"--Orchestrator:Security:NodeTokenFile={nodeToken}",
            "--Orchestrator:Profile=cluster",
            "--Orchestrator:AdvertisedIP=127.0.0.1",
            $"--Orchestrator:SiloPort={silo}",
            $"--Orchestrator:GatewayPort={gateway}",
            .. settings,
        ];
        var process = ChildProcess.Start("dotnet", args, logPath);
        return new SiloProcess(process, http, silo, gateway, kubeconfig, nodeToken);
    }

    /// <summary>Waits until the silo serves the API (its control plane bootstrap has run).</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        Exception? last = null;
        while (deadline.Elapsed < timeout)
        {
            if (Process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {Process.ExitCode}:\n{Process.Tail()}");
            }
            try
            {
                using var response = await Http.GetAsync("/api/v1/namespaces/default").WaitAsync(TimeSpan.FromSeconds(10));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TimeoutException or TaskCanceledException)
            {
                last = ex;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{Name} was not ready within {timeout.TotalSeconds:0} s ({last?.Message}):\n{Process.Tail()}");
    }

    public Task KillAsync() => Process.KillAsync();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Process.StopAsync(ChildProcess.SigTerm, TimeSpan.FromSeconds(10));
        await Process.DisposeAsync();
    }

    public override string ToString() => Name;

    internal static string Invariant(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);
}
