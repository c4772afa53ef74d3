using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Benchmarks;

/// <summary>Starts the silo as its own process (so its memory can be measured alone).</summary>
public sealed class SiloRunner : IDisposable
{
    private readonly Process _process;

    public SiloRunner(string dataDirectory, params string[] extraArgs)
    {
        KubeconfigPath = Path.Combine(Path.GetFullPath(dataDirectory), "admin.kubeconfig");
        NodeTokenPath = Path.Combine(Path.GetFullPath(dataDirectory), "node-token");
        HttpPort = FreePort();
        GatewayPort = FreePort();
        var dll = Path.Combine(RepoRoot(), "silos", "bin", Configuration, "net10.0", "Orchestrator.Silo.dll");
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[]
        {
            dll,
            $"--urls=https://127.0.0.1:{HttpPort}",
            $"--Orchestrator:DataDirectory={dataDirectory}",
            $"--Orchestrator:SiloPort={FreePort()}",
            $"--Orchestrator:GatewayPort={GatewayPort}",
            $"--Orchestrator:ClusterId={ClusterId}",
            "--Logging:LogLevel:Default=Warning",
        }.Concat(extraArgs))
        {
            info.ArgumentList.Add(a);
        }
        LogPath = Path.Combine(Path.GetTempPath(), $"orch-bench-silo-{ClusterId}.log");
        var log = new StreamWriter(LogPath) { AutoFlush = true };
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => { lock (log) { log.WriteLine(e.Data); } };
        _process.ErrorDataReceived += (_, e) => { lock (log) { log.WriteLine(e.Data); } };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string ClusterId { get; } = $"bench-{Guid.NewGuid():N}"[..20];

    public int HttpPort { get; }

    public int GatewayPort { get; }

    public int Pid => _process.Id;

    /// <summary>The admin kubeconfig the silo writes in its data directory once its API listens.</summary>
    public string KubeconfigPath { get; }

    /// <summary>The node bootstrap token the silo writes at start: agents join with it.</summary>
    public string NodeTokenPath { get; }

    /// <summary>A client of the silo's API (HTTPS only) as the admin of its kubeconfig; it fails
    /// like an API that is not up until the silo has written the kubeconfig.</summary>
    public HttpClient NewApiClient(TimeSpan timeout, int maxConnections = int.MaxValue) =>
        Kubeconfig.AdminClient($"https://127.0.0.1:{HttpPort}", KubeconfigPath, timeout, maxConnections);

    /// <summary>The silo's output, kept for a look after a failed run.</summary>
    public string LogPath { get; }

    public static string Configuration => AppContext.BaseDirectory.Contains("/bin/Release/", StringComparison.Ordinal) ? "Release" : "Debug";

    public async Task WaitReadyAsync(HttpClient http)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException("the silo exited");
            }
            try
            {
                if ((await http.GetAsync("/api/v1/namespaces/default")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("the silo did not become ready");
    }

    /// <summary>CPU time the silo has used so far (user + system), from /proc.</summary>
    public TimeSpan CpuTime()
    {
        var fields = File.ReadAllText($"/proc/{Pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // After the command name: state is field 3, so utime and stime (fields 14 and 15) are at 11 and 12.
        var ticks = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0);
    }

    /// <summary>Peak resident memory of the silo (VmHWM), in MiB.</summary>
    public double PeakMemoryMiB()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
            }
        }
        return double.NaN;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process.Dispose();
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Orchestrator.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("run from inside the repository");
    }
}
