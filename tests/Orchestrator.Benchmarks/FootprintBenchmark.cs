using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Orchestrator.Benchmarks;

/// <summary>
/// The footprint of a small cluster at rest: one silo (embedded profile) and one node agent, each
/// its own process as scripts/up.sh starts them, running the sample (examples/hello.yaml: a
/// deployment of 3 replicas and its service). Once the sample is available and has settled, the
/// resident memory (VmRSS) and CPU of both processes are sampled every second; prints medians.
/// The agent runs the fake runtime (no containers, so no root needed and no containerd memory
/// counted); its own code paths (heartbeats, pod status reports, watches) are the same.
/// Options: --settle-seconds 20 --seconds 30, and any --Orchestrator:Key=Value for the silo.
/// </summary>
public static class FootprintBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var settle = TimeSpan.FromSeconds(Option(args, "--settle-seconds", 20));
        var seconds = Option(args, "--seconds", 30);
        var data = Path.Combine(Path.GetTempPath(), $"orch-foot-{Guid.NewGuid():N}");
        Directory.CreateDirectory(data);
        var silo = new SiloRunner(Path.Combine(data, "silo"), [.. args.Where(a => a.StartsWith("--Orchestrator:", StringComparison.Ordinal))]);
        using var http = silo.NewApiClient(TimeSpan.FromSeconds(30));
        Process? agent = null;
        try
        {
            await silo.WaitReadyAsync(http);
            var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[]
            {
                Path.Combine(SiloRunner.RepoRoot(), "node-agent", "bin", SiloRunner.Configuration, "net10.0", "Orchestrator.NodeAgent.dll"),
                $"--Orchestrator:GatewayPort={silo.GatewayPort}",
                $"--Orchestrator:ClusterId={silo.ClusterId}",
                $"--Agent:Server=https://127.0.0.1:{silo.HttpPort}",
                $"--Agent:TokenFile={silo.NodeTokenPath}",
                "--Agent:NodeName=footprint",
                "--Agent:Runtime=fake",
                "--Agent:NodeIP=127.0.0.1",
                $"--Agent:DataDirectory={Path.Combine(data, "agent")}",
                "--Logging:LogLevel:Default=Warning",
            })
            {
                info.ArgumentList.Add(a);
            }
            agent = Process.Start(info)!;
            agent.OutputDataReceived += (_, _) => { };
            agent.ErrorDataReceived += (_, _) => { };
            agent.BeginOutputReadLine();
            agent.BeginErrorReadLine();

            var manifest = await File.ReadAllTextAsync(Path.Combine(SiloRunner.RepoRoot(), "examples", "hello.yaml"));
            var documents = manifest.Split("\n---\n");
            await WaitAsync("the node to be Ready", async () => (await http.GetStringAsync("/api/v1/nodes")).Contains("\"type\":\"Ready\",\"status\":\"True\"", StringComparison.Ordinal));
            await PostAsync(http, "/apis/apps/v1/namespaces/default/deployments", documents.Single(d => d.Contains("kind: Deployment", StringComparison.Ordinal)));
            await PostAsync(http, "/api/v1/namespaces/default/services", documents.Single(d => d.Contains("kind: Service", StringComparison.Ordinal)));
            await WaitAsync("3 available replicas", async () => (await http.GetStringAsync("/apis/apps/v1/namespaces/default/deployments/hello")).Contains("\"availableReplicas\":3", StringComparison.Ordinal));
            Console.WriteLine($"sample available; settling {settle.TotalSeconds:0} s, then sampling {seconds} s");
            await Task.Delay(settle);

            var siloRss = new List<double>();
            var agentRss = new List<double>();
            var siloCpu0 = silo.CpuTime();
            var agentCpu0 = CpuTime(agent.Id);
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < seconds; i++)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                siloRss.Add(ResidentMiB(silo.Pid));
                agentRss.Add(ResidentMiB(agent.Id));
            }
            var elapsed = clock.Elapsed.TotalSeconds;
            Console.WriteLine();
            Console.WriteLine($"silo resident memory, median     {Stats.Median(siloRss):F0} MiB (peak VmHWM {silo.PeakMemoryMiB():F0} MiB)");
            Console.WriteLine($"agent resident memory, median    {Stats.Median(agentRss):F0} MiB");
            Console.WriteLine($"  of which anonymous (heaps, JIT) silo {StatusField(silo.Pid, "RssAnon:") / 1024.0:F0} MiB, agent {StatusField(agent.Id, "RssAnon:") / 1024.0:F0} MiB; the rest is mapped files (the runtime, assemblies)");
            Console.WriteLine($"silo CPU at rest                 {(silo.CpuTime() - siloCpu0).TotalSeconds / elapsed:F3} cores");
            Console.WriteLine($"agent CPU at rest                {(CpuTime(agent.Id) - agentCpu0).TotalSeconds / elapsed:F3} cores");
            return 0;
        }
        finally
        {
            if (agent is { HasExited: false })
            {
                agent.Kill();
                await agent.WaitForExitAsync();
            }
            agent?.Dispose();
            silo.Dispose();
            Directory.Delete(data, recursive: true);
        }
    }

    private static async Task PostAsync(HttpClient http, string path, string yaml)
    {
        var response = await http.PostAsync(path, new StringContent(yaml, Encoding.UTF8, "application/yaml"));
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static async Task WaitAsync(string what, Func<Task<bool>> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"waited 60 s for {what}");
            }
            await Task.Delay(200);
        }
    }

    private static double ResidentMiB(int pid) => StatusField(pid, "VmRSS:") / 1024.0;

    private static long StatusField(int pid, string name) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(name, StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    private static TimeSpan CpuTime(int pid)
    {
        var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return TimeSpan.FromSeconds((long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0);
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
