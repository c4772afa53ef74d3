using System.Globalization;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Compose;

/// <summary>
/// The docker-compose cluster of docker-compose.yml, brought up by scripts/compose-up.sh and
/// removed by scripts/compose-down.sh, exactly as a user would, with everything unique to this
/// run: a dockerd and containerd of its own (ORCH_COMPOSE_OWN_DOCKERD=1) with their state under a
/// temporary directory, its own compose project name, and free loopback ports for the silos' APIs.
/// </summary>
/// <remarks>
/// What compose-up.sh recorded (compose.env: DOCKER_HOST, the PIDs it started, the network's
/// bridge) is read back, so the test talks to the same daemon and checks what went away.
/// </remarks>
public sealed class ComposeCluster : IAsyncDisposable
{
    /// <summary>Debian's docker.io client, which speaks dockerd 20.10's API.</summary>
    private const string DockerCli = "/usr/bin/docker";

    private readonly TempDirectory _logs;
    private readonly Dictionary<string, string> _environment;
    private bool _down;

    private ComposeCluster(TempDirectory logs, string directory, string project, int[] ports, Dictionary<string, string> environment, IReadOnlyDictionary<string, string> recorded)
    {
        _logs = logs;
        Directory = directory;
        Project = project;
        ApiPorts = ports;
        _environment = environment;
        Recorded = recorded;
    }

    /// <summary>The cluster's state directory (ORCH_COMPOSE_DIR); compose-down.sh deletes it.</summary>
    public string Directory { get; }

    /// <summary>The docker-compose project name.</summary>
    public string Project { get; }

    /// <summary>The API ports of silo1, silo2 and silo3 on 127.0.0.1.</summary>
    public IReadOnlyList<int> ApiPorts { get; }

    /// <summary>What compose-up.sh recorded in compose.env.</summary>
    public IReadOnlyDictionary<string, string> Recorded { get; }

    public string DockerHost => Recorded["DOCKER_HOST"];

    /// <summary>The Linux bridge of the cluster's network.</summary>
    public string Bridge => Recorded["ORCH_COMPOSE_BRIDGE"];

    /// <summary>Where the scripts' output goes (deleted with the cluster).</summary>
    public string LogDirectory => _logs.Path;

    /// <summary>
    /// Runs scripts/compose-up.sh; returns when the cluster runs examples/hello.yaml on both nodes.
    /// A failure (a missing package, a build error, a timeout) is thrown with the end of the
    /// script's output, which names what is missing or what failed; what the script had started
    /// is removed first.
    /// </summary>
    public static async Task<ComposeCluster> UpAsync(TimeSpan timeout)
    {
        var logs = new TempDirectory("orch-compose-logs");
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var project = $"orch-test-{suffix}";
        // The state directory holds dockerd's socket: a short path keeps it under the 108 bytes
        // a unix socket path may have.
        var directory = Path.Combine(Path.GetTempPath(), $"orch-compose-{suffix}");
        var ports = new[] { Ports.Free(), Ports.Free(), Ports.Free() };
        var environment = new Dictionary<string, string>
        {
            ["ORCH_COMPOSE_DIR"] = directory,
            ["ORCH_COMPOSE_PROJECT"] = project,
            ["ORCH_COMPOSE_OWN_DOCKERD"] = "1",
            ["ORCH_API_PORT_1"] = ports[0].ToString(CultureInfo.InvariantCulture),
            ["ORCH_API_PORT_2"] = ports[1].ToString(CultureInfo.InvariantCulture),
            ["ORCH_API_PORT_3"] = ports[2].ToString(CultureInfo.InvariantCulture),
        };
        var up = await RunScriptAsync("compose-up.sh", environment, Path.Combine(logs.Path, "compose-up.log"), timeout);
        var recorded = ReadRecorded(directory);
        var cluster = new ComposeCluster(logs, directory, project, ports, environment, recorded);
        if (up.ExitCode != 0)
        {
            var teardown = await cluster.DownAsync();
            await cluster.DisposeAsync();
            throw new InvalidOperationException(
                $"scripts/compose-up.sh {(up.TimedOut ? $"did not finish within {timeout.TotalMinutes:0} minutes" : $"failed with exit code {up.ExitCode}")}:\n{up.Tail}\n"
                + $"--- scripts/compose-down.sh (exit code {teardown.ExitCode}):\n{teardown.Tail}");
        }
        return cluster;
    }

    /// <summary>The admin kubeconfig compose-up.sh copied out of silo1 (server: silo1's published
    /// port; deleted with the state directory by compose-down.sh).</summary>
    public string KubeconfigPath => Recorded.GetValueOrDefault("ORCH_KUBECONFIG", Path.Combine(Directory, "admin.kubeconfig"));

    /// <summary>The API of silo <paramref name="silo"/> (1 to 3), over HTTPS as the admin of the
    /// kubeconfig: the three silos share its CA and token (both are kept in PostgreSQL), and each
    /// one's certificate names 127.0.0.1, where its port is published.</summary>
    public ApiClient Api(int silo) => new(Kubeconfig.AdminClient($"https://127.0.0.1:{ApiPorts[silo - 1]}", KubeconfigPath, TimeSpan.FromSeconds(30)));

    /// <summary>The container of a service (docker-compose names it project_service_1).</summary>
    public string Container(string service) => $"{Project}_{service}_1";

    /// <summary>Runs docker against this cluster's daemon; throws with its stderr when it fails.</summary>
    public Task<string> DockerAsync(params string[] arguments) => HostCommand.CheckAsync(DockerCli, ["--host", DockerHost, .. arguments]);

    /// <summary>A command inside a service's container.</summary>
    public Task<string> ExecAsync(string service, params string[] command) => DockerAsync(["exec", Container(service), .. command]);

    /// <summary>The last lines of the services' logs, for failure messages.</summary>
    public async Task<string> LogsAsync(int lines = 40)
    {
        // The files compose-up.sh started (COMPOSE_FILE: docker-compose.yml and any override).
        var files = Recorded.GetValueOrDefault("COMPOSE_FILE", Path.Combine(Repository.Root, "docker-compose.yml"))
            .Split(':').SelectMany(f => new[] { "-f", f });
        var result = await HostCommand.RunAsync("docker-compose",
        [
            "--host", DockerHost, "--project-name", Project, "--project-directory", Repository.Root, .. files,
            "logs", "--no-color", "--tail", lines.ToString(CultureInfo.InvariantCulture),
        ]);
        return result.StandardOutput + result.StandardError;
    }

    /// <summary>Runs scripts/compose-down.sh (once; later calls return the first result).</summary>
    public async Task<ScriptResult> DownAsync()
    {
        if (_down)
        {
            return new ScriptResult(0, false, "(already down)");
        }
        _down = true;
        return await RunScriptAsync("compose-down.sh", _environment, Path.Combine(_logs.Path, "compose-down.log"), TimeSpan.FromMinutes(3));
    }

    public async ValueTask DisposeAsync()
    {
        await DownAsync();
        _logs.Dispose();
    }

    /// <summary>How a script ended: its exit code (-1 when it was killed at the deadline) and the
    /// end of its output.</summary>
    public sealed record ScriptResult(int ExitCode, bool TimedOut, string Tail);

    private static async Task<ScriptResult> RunScriptAsync(string script, IDictionary<string, string> environment, string logPath, TimeSpan timeout)
    {
        await using var process = ChildProcess.Start("bash", [Path.Combine(Repository.Root, "scripts", script)], logPath, environment);
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            // Its children (dockerd, containerd) are not ended with it: compose-down.sh does that
            // from what the script recorded.
            await process.KillAsync();
            return new ScriptResult(-1, true, process.Tail(60));
        }
        return new ScriptResult(process.ExitCode, false, process.Tail(60));
    }

    /// <summary>compose.env: NAME=VALUE lines written by compose-up.sh with printf %q, which
    /// leaves paths, ports and image names as they are and escapes anything else with a backslash.</summary>
    private static Dictionary<string, string> ReadRecorded(string directory)
    {
        var path = Path.Combine(directory, "compose.env");
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            return values;
        }
        foreach (var line in File.ReadAllLines(path))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                var raw = line[(equals + 1)..];
                var value = new System.Text.StringBuilder();
                for (var i = 0; i < raw.Length; i++)
                {
                    if (raw[i] == '\\' && i + 1 < raw.Length)
                    {
                        i++;
                    }
                    value.Append(raw[i]);
                }
                values[line[..equals]] = value.ToString();
            }
        }
        return values;
    }
}

/// <summary>
/// What a Docker daemon can leave behind on the host, taken before the cluster starts and compared
/// after it is removed: in iptables and ip6tables, every table's built-in chain policies (dockerd
/// sets FORWARD to DROP) and every chain and rule that names Docker or a Docker network bridge
/// (br-...), and whether /run/docker exists. Other rules are left out: tests of other processes
/// on the same machine may change them meanwhile.
/// </summary>
public sealed partial record HostSnapshot(string Iptables, string Ip6tables, bool RunDocker)
{
    public static async Task<HostSnapshot> TakeAsync() => new(
        await SaveAsync("iptables-save"),
        await SaveAsync("ip6tables-save"),
        System.IO.Directory.Exists("/run/docker"));

    /// <summary>Lines in <paramref name="after"/>'s rules that are not in this one's, and the other
    /// way round, as a diff ("+" added, "-" removed); empty when they are the same.</summary>
    public static IReadOnlyList<string> Differences(string before, string after)
    {
        var b = before.Split('\n');
        var a = after.Split('\n');
        return [.. a.Except(b).Select(l => "+ " + l), .. b.Except(a).Select(l => "- " + l)];
    }

    private static async Task<string> SaveAsync(string tool)
    {
        var result = await HostCommand.RunAsync(tool, []);
        var table = "";
        var lines = new List<string>();
        foreach (var line in result.StandardOutput.Split('\n'))
        {
            if (line.StartsWith('*'))
            {
                table = line;
            }
            else if (BuiltInPolicy().IsMatch(line) || DockerLine().IsMatch(line))
            {
                // Policies carry packet counters ("[12:345]"); the table tells FORWARD of filter
                // from FORWARD of mangle.
                lines.Add($"{table} {PacketCounters().Replace(line, "")}");
            }
        }
        return string.Join('\n', lines);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ")]
    private static partial System.Text.RegularExpressions.Regex BuiltInPolicy();

    [System.Text.RegularExpressions.GeneratedRegex(@"docker|\bbr-[0-9a-f]{12}\b", System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex DockerLine();

    [System.Text.RegularExpressions.GeneratedRegex(@" ?\[\d+:\d+\]$")]
    private static partial System.Text.RegularExpressions.Regex PacketCounters();
}
