using System.Diagnostics;
using System.Globalization;
using System.Text;
using Orchestrator.NodeAgent;
using Orchestrator.Tests.Infrastructure.Logging;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Containerd;

/// <summary>
/// A node agent in a process of its own (<c>dotnet node-agent/bin/.../Orchestrator.NodeAgent.dll</c>),
/// for what only a real process shows: being killed with SIGKILL and coming back.
/// </summary>
public sealed class AgentProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly CollectionLog _testLog = CollectionLog.Current;
    private readonly string _name;

    private AgentProcess(Process process, string name)
    {
        _process = process;
        _name = name;
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The agent built next to this test assembly's configuration (Debug or Release).</summary>
    public static string AgentAssembly()
    {
        var parts = AppContext.BaseDirectory.TrimEnd('/').Split('/');
        var bin = Array.LastIndexOf(parts, "bin");
        var configuration = bin >= 0 && bin + 1 < parts.Length ? parts[bin + 1] : "Debug";
        var path = Path.Combine(HostCommand.RepositoryRoot(), "node-agent", "bin", configuration, "net10.0", "Orchestrator.NodeAgent.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"build the node agent first: {path} is missing", path);
    }

    /// <summary>Starts an agent; with <paramref name="netns"/> (a path such as /run/netns/NODE)
    /// inside that network namespace, through <c>nsenter --net</c>, which enters it and then
    /// executes dotnet in its place (so <see cref="Pid"/> is the agent's). Unlike
    /// <c>ip netns exec</c>, nsenter keeps the mount namespace, so the pod namespaces the agent
    /// mounts are visible to containerd. It joins with the node bootstrap token of <paramref name="join"/>
    /// (or reuses the credentials an earlier run stored in its data directory), as a real agent does.</summary>
    public static AgentProcess Start(NodeAgentOptions o, int gatewayPort, string clusterId, AgentJoin join, string? netns = null, IEnumerable<string>? extraArgs = null)
    {
        var info = new ProcessStartInfo(netns is null ? "dotnet" : "nsenter")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var args = new List<string>();
        if (netns is not null)
        {
            args.AddRange([$"--net={netns}", "dotnet"]);
        }
        args.AddRange(
        [
            AgentAssembly(),
            $"--Orchestrator:GatewayPort={gatewayPort}",
            $"--Orchestrator:ClusterId={clusterId}",
            "--Orchestrator:ConnectTimeout=00:00:30",
            .. join.Arguments,
            $"--Agent:NodeName={o.NodeName}",
            $"--Agent:Runtime={o.Runtime}",
            $"--Agent:ContainerdAddress={o.ContainerdAddress}",
            $"--Agent:ContainerdNamespace={o.ContainerdNamespace}",
            $"--Agent:DataDirectory={o.DataDirectory}",
            $"--Agent:NetnsDirectory={o.NetnsDirectory}",
            $"--Agent:BridgeName={o.BridgeName}",
            $"--Agent:Cpu={o.Cpu}",
            $"--Agent:Memory={o.Memory}",
            $"--Agent:NodeIP={o.NodeIP}",
            $"--Agent:ResyncInterval={o.ResyncInterval.ToString("c", CultureInfo.InvariantCulture)}",
            $"--Agent:RestartBackoff={o.RestartBackoff.ToString("c", CultureInfo.InvariantCulture)}",
            $"--Agent:MaxRestartBackoff={o.MaxRestartBackoff.ToString("c", CultureInfo.InvariantCulture)}",
            "--Logging:LogLevel:Default=Information",
            "--Logging:LogLevel:Orleans=Warning",
            "--Logging:LogLevel:Microsoft=Warning",
        ]);
        if (o.Proxy is { } proxy)
        {
            args.Add($"--Agent:Proxy={proxy}");
        }
        args.AddRange(o.Labels.Select(kv => $"--Agent:Labels:{kv.Key}={kv.Value}"));
        args.AddRange(o.EffectiveAllowedHostPathRoots.Select((r, i) => $"--Agent:AllowedHostPathRoots:{i}={r}"));
        args.AddRange((o.PodRoutes ?? []).Select((r, i) => $"--Agent:PodRoutes:{i}={r}"));
        args.AddRange(extraArgs ?? []);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        var agent = new AgentProcess(process, $"agent {o.NodeName}");
        process.OutputDataReceived += (_, e) => agent.Append(e.Data);
        process.ErrorDataReceived += (_, e) => agent.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return agent;
    }

    /// <summary>SIGKILL: the agent gets no chance to clean up, as in a crash.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM and a wait for a clean exit (SIGKILL if it does not come).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await HostCommand.RunAsync("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        _testLog.WriteLine(_name, line);
        lock (_output)
        {
            if (_output.Length < 1_000_000)
            {
                _output.AppendLine(line);
            }
        }
    }
}
