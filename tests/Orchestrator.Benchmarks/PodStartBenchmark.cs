using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestrator.Model;
using Orchestrator.NodeAgent;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.NodeAgent.Runtime.Containerd;
using Orchestrator.Serialization;
using Orchestrator.Silo.Hosting;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Benchmarks;

/// <summary>
/// A burst of pods on one real node: creates N busybox pods at once through the HTTP API and
/// reports create-to-Running percentiles and the time until all run. Two references measured in
/// the same run put the figures in context: one raw <c>ctr run -d</c> (the floor: what containerd
/// alone costs per container), and Docker Swarm starting the same number of replicas of the same
/// busybox root filesystem on the same containerd.
/// Needs root, containerd, runc, CNI plugins and busybox-static; Docker Swarm needs docker.io.
/// Everything runs against a containerd of its own under a temporary directory and is removed
/// at the end, including dockerd's iptables chains.
/// Run: dotnet run -c Release --project tests/Orchestrator.Benchmarks -- pod-start [--pods 30] [--ctr-runs 7] [--no-swarm]
/// </summary>
[SupportedOSPlatform("linux")]
public static class PodStartBenchmark
{
    private const string Image = "localhost/busybox:test";

    public static async Task<int> RunAsync(string[] args)
    {
        var pods = IntOption(args, "--pods", 30);
        var ctrRuns = IntOption(args, "--ctr-runs", 7);
        var swarm = !args.Contains("--no-swarm");
        if (Environment.UserName != "root")
        {
            Console.Error.WriteLine("pod-start runs real containers: run it as root.");
            return 1;
        }
        var work = Path.Combine(Path.GetTempPath(), $"orch-bench-{Guid.NewGuid():N}"[..21]);
        Directory.CreateDirectory(work);
        var suffix = Guid.NewGuid().ToString("N")[..4];
        var ns = $"orch-bench-{suffix}";
        var bridge = $"orchb{suffix}";
        var netnsDirectory = Path.Combine(work, "netns");
        ContainerdInstance? containerd = null;
        try
        {
            Console.WriteLine($"pod-start: {pods} pods on one node, {Environment.ProcessorCount} cores");
            containerd = await ContainerdInstance.StartAsync(Path.Combine(work, "containerd"), TimeSpan.FromSeconds(20));
            await containerd.ImportTestImageAsync(ns);

            var ours = await OrchestratorBurstAsync(containerd, ns, bridge, work, netnsDirectory, pods);
            var ctr = await CtrRunAsync(containerd, ns, ctrRuns);
            var docker = swarm ? await SwarmAsync(containerd, work, pods) : null;

            Console.WriteLine();
            Console.WriteLine($"{"",-34} {"p50 (ms)",10} {"p99 (ms)",10} {"all (ms)",10}");
            Console.WriteLine($"{"orchestrator, create-to-Running",-34} {Stats.Median(ours.Latencies),10:F0} {Stats.Percentile(ours.Latencies, 99),10:F0} {ours.All,10:F0}");
            Console.WriteLine($"{"orchestrator, one pod alone",-34} {Stats.Median(ours.Single),10:F0} {"",10} {"",10}   (median of {ours.Single.Count})");
            if (docker is not null)
            {
                Console.WriteLine($"{"docker swarm, replicas running",-34} {"",10} {"",10} {docker.Value,10:F0}");
            }
            else
            {
                Console.WriteLine($"{"docker swarm",-34} skipped ({(swarm ? "docker.io is not installed" : "--no-swarm")})");
            }
            Console.WriteLine($"{"raw ctr run -d, one container",-34} {Stats.Median(ctr),10:F0} {"",10} {"",10}   (median of {ctr.Count})");
            if (docker is not null)
            {
                Console.WriteLine($"ratio all-running orchestrator / swarm: {ours.All / docker.Value:F2}");
            }
            Console.WriteLine($"ratio p50 orchestrator / raw ctr run: {Stats.Median(ours.Latencies) / Stats.Median(ctr):F2}");
            return 0;
        }
        finally
        {
            if (containerd is not null)
            {
                await containerd.DisposeAsync();
            }
            foreach (var file in Directory.Exists(netnsDirectory) ? Directory.EnumerateFiles(netnsDirectory) : [])
            {
                await HostCommand.RunAsync("umount", ["--lazy", file]);
            }
            await HostCommand.RunAsync("ip", ["link", "delete", bridge]);
            foreach (var mountPoint in ContainerdInstance.MountsUnder(work))
            {
                await HostCommand.RunAsync("umount", ["--lazy", mountPoint]);
            }
            Directory.Delete(work, recursive: true);
        }
    }

    private sealed record Burst(List<double> Latencies, double All, List<double> Single);

    /// <summary>The control plane and one node agent in this process, then N pods created at once.</summary>
    private static async Task<Burst> OrchestratorBurstAsync(ContainerdInstance containerd, string ns, string bridge, string work, string netnsDirectory, int count)
    {
        var httpPort = FreePort();
        await using var silo = SiloApp.Build(
        [
            $"--urls=https://127.0.0.1:{httpPort}",
            $"--Orchestrator:DataDirectory={Path.Combine(work, "silo")}",
            $"--Orchestrator:SiloPort={FreePort()}",
            $"--Orchestrator:GatewayPort={FreePort()}",
            $"--Orchestrator:ClusterId=bench-{Guid.NewGuid():N}",
            $"--Orchestrator:ClusterCidr=10.{200 + Random.Shared.Next(50)}.0.0/16",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Orleans=Error",
            "--Logging:LogLevel:Orleans.Runtime.Silo=Error",
            "--Logging:LogLevel:Orleans.Runtime.SiloOptionsLogger=Error",
        ]);
        await silo.StartAsync();
        var node = "bench-node";
        var options = new NodeAgentOptions
        {
            NodeName = node,
            ContainerdAddress = containerd.Address,
            ContainerdNamespace = ns,
            DataDirectory = Path.Combine(work, "agent"),
            NetnsDirectory = netnsDirectory,
            BridgeName = bridge,
            NodeIP = "127.0.0.1",
            // In this machine's own network namespace: no service rules, no routes out of pods.
            Proxy = false,
            PodRoutes = [],
            Cpu = "64",
            Memory = "64Gi",
        };
        var runtime = await ContainerdRuntime.CreateAsync(options, TimeProvider.System, NullLogger.Instance, CancellationToken.None);
        var agent = new NodeAgentGroup([node], options, silo.Services.GetRequiredService<IGrainFactory>(), _ => runtime, TimeProvider.System, NullLogger.Instance);
        await agent.StartAsync(CancellationToken.None);
        try
        {
            using var http = Kubeconfig.AdminClient($"https://127.0.0.1:{httpPort}", Path.Combine(work, "silo", "admin.kubeconfig"), TimeSpan.FromSeconds(60));
            await WaitAsync(async () => (await http.GetStringAsync($"/api/v1/nodes/{node}")).Contains("\"type\":\"Ready\",\"status\":\"True\"", StringComparison.Ordinal),
                TimeSpan.FromSeconds(30), "the node to be Ready");
            await http.PostAsync("/api/v1/namespaces", Json(new Namespace { Metadata = new ObjectMeta { Name = "bench" } }));

            // One pod first, not measured: the first start pays for creating the bridge and warming
            // the JIT, which a node that has run pods before does not. Then single pods one at a
            // time: the latency of the whole path (API, scheduler, watch, agent, containerd) alone.
            var single = new List<double>();
            for (var i = 0; i < 4; i++)
            {
                var name = $"single-{i}";
                var clock1 = Stopwatch.StartNew();
                await CreatePodAsync(http, name);
                await WaitAsync(async () => (await RunningAsync(http)).Contains(name), TimeSpan.FromSeconds(60), $"pod {name}", poll: TimeSpan.FromMilliseconds(10));
                if (i > 0)
                {
                    single.Add(clock1.Elapsed.TotalMilliseconds);
                }
                await http.DeleteAsync($"/api/v1/namespaces/bench/pods/{name}");
                await WaitAsync(async () => (await runtime.ListContainersAsync(CancellationToken.None)).Count == 0, TimeSpan.FromSeconds(60), $"pod {name} to go");
            }
            Console.WriteLine($"orchestrator: one pod alone, create-to-Running: {string.Join(", ", single.Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))} ms");

            var clock = Stopwatch.StartNew();
            var created = new double[count];
            await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
            {
                created[i] = clock.Elapsed.TotalMilliseconds;
                await CreatePodAsync(http, $"p{i}");
            }));
            var running = new Dictionary<string, double>();
            while (running.Count < count)
            {
                if (clock.Elapsed > TimeSpan.FromMinutes(3))
                {
                    throw new TimeoutException($"only {running.Count} of {count} pods ran within 3 minutes");
                }
                foreach (var name in await RunningAsync(http))
                {
                    running.TryAdd(name, clock.Elapsed.TotalMilliseconds);
                }
                await Task.Delay(20);
            }
            var latencies = Enumerable.Range(0, count).Select(i => running[$"p{i}"] - created[i]).ToList();
            var all = running.Values.Max();
            Console.WriteLine($"orchestrator: {count} pods running after {all:F0} ms");

            // Leave nothing running: delete the pods and wait for the agent to remove them.
            await http.DeleteAsync("/api/v1/namespaces/bench");
            await WaitAsync(async () => (await runtime.ListContainersAsync(CancellationToken.None)).Count == 0, TimeSpan.FromSeconds(90), "the pods to be removed");
            return new Burst(latencies, all, single);
        }
        finally
        {
            // The agent stops before the control plane it talks to.
            await agent.DisposeAsync();
            await silo.StopAsync();
        }
    }

    private static async Task CreatePodAsync(HttpClient http, string name)
    {
        var pod = new Pod
        {
            Metadata = new ObjectMeta { Name = name },
            Spec = new PodSpec
            {
                TerminationGracePeriodSeconds = 0,
                Containers = [new Container { Name = "main", Image = Image, Command = ["sleep", "3600"] }],
            },
        };
        var response = await http.PostAsync("/api/v1/namespaces/bench/pods", Json(pod));
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"creating pod {name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static async Task<List<string>> RunningAsync(HttpClient http)
    {
        var list = JsonNode.Parse(await http.GetStringAsync("/api/v1/namespaces/bench/pods"))!;
        return list["items"]!.AsArray()
            .Where(p => p?["status"]?["phase"]?.GetValue<string>() == PodPhase.Running)
            .Select(p => p!["metadata"]!["name"]!.GetValue<string>())
            .ToList();
    }

    /// <summary>The floor: the wall time of <c>ctr run -d</c> for one container, each run on its own.</summary>
    private static async Task<List<double>> CtrRunAsync(ContainerdInstance containerd, string ns, int runs)
    {
        var times = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var id = $"ctr-run-{i}";
            var clock = Stopwatch.StartNew();
            await containerd.CtrAsync(ns, "run", "--detach", "--null-io", Image, id, "sleep", "3600");
            times.Add(clock.Elapsed.TotalMilliseconds);
            await containerd.CtrAsync(ns, "tasks", "delete", "--force", id);
            await containerd.CtrAsync(ns, "containers", "delete", id);
        }
        Console.WriteLine($"ctr run -d: {string.Join(", ", times.Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))} ms");
        return times;
    }

    /// <summary>Docker Swarm on the same containerd: dockerd started by hand with its state under
    /// the work directory, a one-node swarm on loopback, the busybox root filesystem imported,
    /// then a service of N replicas; the time from `docker service create` until all run.</summary>
    private static async Task<double?> SwarmAsync(ContainerdInstance containerd, string work, int replicas)
    {
        const string Dockerd = "/usr/sbin/dockerd";
        const string Docker = "/usr/bin/docker";
        if (!File.Exists(Dockerd) || !File.Exists(Docker))
        {
            return null;
        }
        var root = Path.Combine(work, "docker");
        Directory.CreateDirectory(root);
        var socket = Path.Combine(root, "docker.sock");
        var rulesBefore = await DockerRulesAsync();
        var hadEtcDocker = Directory.Exists("/etc/docker");
        var hadRunDocker = Directory.Exists("/run/docker");
        var info = new ProcessStartInfo(Dockerd)
        {
            ArgumentList =
            {
                $"--containerd={containerd.Address}",
                $"--data-root={Path.Combine(root, "data")}",
                $"--exec-root={Path.Combine(root, "exec")}",
                $"--pidfile={Path.Combine(root, "docker.pid")}",
                $"--host=unix://{socket}",
                // No NAT: nothing started here may reach past the machine.
                "--ip-masq=false",
            },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var dockerd = Process.Start(info)!;
        dockerd.OutputDataReceived += (_, _) => { };
        dockerd.ErrorDataReceived += (_, _) => { };
        dockerd.BeginOutputReadLine();
        dockerd.BeginErrorReadLine();
        string[] host = [$"--host=unix://{socket}"];
        try
        {
            await WaitAsync(async () => (await HostCommand.RunAsync(Docker, [.. host, "version"])).ExitCode == 0, TimeSpan.FromSeconds(30), "dockerd");
            await HostCommand.CheckAsync(Docker, [.. host, "swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", $"127.0.0.1:{FreePort()}"]);
            await HostCommand.CheckAsync(Docker, [.. host, "import", Path.Combine(containerd.Directory, "image", "busybox-rootfs.tar"), Image]);

            var clock = Stopwatch.StartNew();
            await HostCommand.CheckAsync(Docker, [.. host, "service", "create", "--detach", "--no-resolve-image", "--name", "bench", "--replicas", replicas.ToString(CultureInfo.InvariantCulture), Image, "sleep", "3600"]);
            var target = $"{replicas}/{replicas}";
            await WaitAsync(async () => (await HostCommand.CheckAsync(Docker, [.. host, "service", "ls", "--filter", "name=bench", "--format", "{{.Replicas}}"])).Trim() == target,
                TimeSpan.FromMinutes(3), $"{replicas} swarm replicas", poll: TimeSpan.FromMilliseconds(20));
            var all = clock.Elapsed.TotalMilliseconds;
            Console.WriteLine($"docker swarm: {replicas} replicas running after {all:F0} ms");

            await HostCommand.CheckAsync(Docker, [.. host, "service", "rm", "bench"]);
            await WaitAsync(async () => (await HostCommand.CheckAsync(Docker, [.. host, "ps", "--all", "--quiet"])).Trim().Length == 0, TimeSpan.FromSeconds(90), "swarm containers to go");
            return all;
        }
        finally
        {
            await HostCommand.RunAsync(Docker, [.. host, "swarm", "leave", "--force"]);
            await HostCommand.RunAsync("kill", ["-TERM", dockerd.Id.ToString(CultureInfo.InvariantCulture)]);
            using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
            {
                try
                {
                    await dockerd.WaitForExitAsync(wait.Token);
                }
                catch (OperationCanceledException)
                {
                    dockerd.Kill();
                }
            }
            await RemoveDockerNetworkingAsync(rulesBefore);
            await containerd.EmptyNamespaceAsync("moby");
            await containerd.EmptyNamespaceAsync("plugins.moby");
            foreach (var mountPoint in ContainerdInstance.MountsUnder(root))
            {
                await HostCommand.RunAsync("umount", ["--lazy", mountPoint]);
            }
            // dockerd makes these whatever its roots are set to.
            if (!hadEtcDocker && Directory.Exists("/etc/docker"))
            {
                Directory.Delete("/etc/docker", recursive: true);
            }
            if (!hadRunDocker && Directory.Exists("/run/docker"))
            {
                Directory.Delete("/run/docker", recursive: true);
            }
        }
    }

    private static readonly string[] Tables = ["filter", "nat", "mangle", "raw"];

    /// <summary>The iptables rules and chains that name Docker (its DOCKER* chains, and rules on
    /// docker0 and docker_gwbridge), by table, as "table rule" lines of iptables -S.</summary>
    private static async Task<HashSet<string>> DockerRulesAsync()
    {
        var rules = new HashSet<string>(StringComparer.Ordinal);
        foreach (var table in Tables)
        {
            foreach (var line in (await HostCommand.RunAsync("iptables", ["-t", table, "-S"])).StandardOutput.Split('\n'))
            {
                if ((line.StartsWith("-A ", StringComparison.Ordinal) || line.StartsWith("-N ", StringComparison.Ordinal))
                    && line.Contains("docker", StringComparison.OrdinalIgnoreCase))
                {
                    rules.Add($"{table} {line.Trim()}");
                }
            }
        }
        return rules;
    }

    /// <summary>Removes what dockerd added to iptables (only Docker's own rules and chains that
    /// were not there before it started: other programs' rules are never touched), and the
    /// bridges it made.</summary>
    private static async Task RemoveDockerNetworkingAsync(HashSet<string> before)
    {
        var added = (await DockerRulesAsync()).Except(before).Select(r => (Table: r[..r.IndexOf(' ')], Rule: r[(r.IndexOf(' ') + 1)..])).ToList();
        // Rules first (jumps into the chains included), then the emptied chains.
        foreach (var (table, rule) in added.Where(r => r.Rule.StartsWith("-A ", StringComparison.Ordinal)))
        {
            var fields = Tokens(rule);
            await HostCommand.RunAsync("iptables", ["-t", table, "-D", .. fields.Skip(1)]);
        }
        foreach (var (table, rule) in added.Where(r => r.Rule.StartsWith("-N ", StringComparison.Ordinal)))
        {
            var chain = rule[3..].Trim();
            await HostCommand.RunAsync("iptables", ["-t", table, "-F", chain]);
            await HostCommand.RunAsync("iptables", ["-t", table, "-X", chain]);
        }
        foreach (var link in new[] { "docker0", "docker_gwbridge" })
        {
            await HostCommand.RunAsync("ip", ["link", "delete", link]);
        }
    }

    /// <summary>iptables -S fields: split on spaces, except inside double quotes (comments).</summary>
    private static List<string> Tokens(string rule)
    {
        var tokens = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        foreach (var ch in rule)
        {
            if (ch == '"')
            {
                quoted = !quoted;
            }
            else if (ch == ' ' && !quoted)
            {
                if (current.Length > 0)
                {
                    tokens.Add(current.ToString());
                    current.Clear();
                }
            }
            else
            {
                current.Append(ch);
            }
        }
        if (current.Length > 0)
        {
            tokens.Add(current.ToString());
        }
        return tokens;
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? poll = null)
    {
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (clock.Elapsed < timeout)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or JsonException)
            {
                last = ex;
            }
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(50));
        }
        throw new TimeoutException($"waited {timeout} for {what}" + (last is null ? "" : $": {last.Message}"));
    }

    private static StringContent Json<T>(T value) => new(ResourceJson.SerializeToString(value), System.Text.Encoding.UTF8, "application/json");

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static int IntOption(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v) ? v : fallback;
    }
}
