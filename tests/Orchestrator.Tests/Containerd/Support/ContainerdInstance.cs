using System.Diagnostics;
using System.Text;

namespace Orchestrator.Tests.Containerd;

/// <summary>
/// A containerd of its own for tests and benchmarks: its config, root, state and socket in one
/// directory, so the machine's containerd (if any) is never touched. Stopping it removes the
/// containers and images of every namespace it was asked to clean, ends the shims it started,
/// stops containerd by its PID, unmounts whatever is left under its directory, and deletes it.
/// </summary>
public sealed class ContainerdInstance : IAsyncDisposable
{
    private readonly StringBuilder _log = new();
    private Process _process;
    private bool _stoppedOnPurpose;
    private readonly HashSet<string> _namespaces = new(StringComparer.Ordinal);

    private ContainerdInstance(string directory, Process process)
    {
        Directory = directory;
        _process = process;
    }

    /// <summary>Where its config, root, state and socket live.</summary>
    public string Directory { get; }

    /// <summary>Its gRPC socket (ctr --address).</summary>
    public string Address => Path.Combine(Directory, "containerd.sock");

    public int Pid => _process.Id;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static async Task<ContainerdInstance> StartAsync(string directory, TimeSpan timeout)
    {
        System.IO.Directory.CreateDirectory(directory);
        var config = Path.Combine(directory, "config.toml");
        // No CRI plugin (we are not Kubernetes' kubelet), and no "opt" plugin (it would install
        // into /opt/containerd); no debug or metrics listeners.
        await File.WriteAllTextAsync(config, $"""
            version = 2
            root = "{Path.Combine(directory, "root")}"
            state = "{Path.Combine(directory, "state")}"
            disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
            [grpc]
              address = "{Path.Combine(directory, "containerd.sock")}"
            [debug]
              address = ""
              level = "warn"
            [metrics]
              address = ""
            """);
        var process = StartProcess(config);
        var instance = new ContainerdInstance(directory, process);
        instance.Attach(process);
        try
        {
            await instance.WaitAnsweringAsync(timeout);
        }
        catch
        {
            await instance.DisposeAsync();
            throw;
        }
        return instance;
    }

    private static Process StartProcess(string config)
    {
        var process = new Process
        {
            StartInfo = new ProcessStartInfo("containerd")
            {
                ArgumentList = { "--config", config },
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            },
        };
        process.Start();
        return process;
    }

    private void Attach(Process process)
    {
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
    }

    private async Task WaitAnsweringAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"containerd exited with {_process.ExitCode} at start: {Log}");
            }
            if (File.Exists(Address) && (await HostCommand.RunAsync("ctr", ["--address", Address, "version"])).ExitCode == 0)
            {
                return;
            }
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"containerd did not answer on {Address} within {timeout}: {Log}");
            }
            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 200));
        }
    }

    /// <summary>Stops the daemon (SIGTERM to its PID) as a restart or upgrade of containerd does:
    /// containers keep running, their shims outlive it. <see cref="StartDaemonAsync"/> brings it back.</summary>
    public async Task StopDaemonAsync()
    {
        if (_process.HasExited)
        {
            return;
        }
        _stoppedOnPurpose = true;
        await TerminateAsync();
    }

    /// <summary>SIGTERM, then SIGKILL if containerd has not exited 10 s later.</summary>
    private async Task TerminateAsync()
    {
        await HostCommand.RunAsync("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
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

    /// <summary>Starts the daemon again on the same configuration, root and socket; it reconnects
    /// to the shims of the containers that kept running.</summary>
    public async Task StartDaemonAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            return;
        }
        _process.Dispose();
        _process = StartProcess(Path.Combine(Directory, "config.toml"));
        Attach(_process);
        await WaitAnsweringAsync(timeout);
        _stoppedOnPurpose = false;
    }

    /// <summary>Runs ctr against this containerd.</summary>
    public Task<string> CtrAsync(string @namespace, params string[] arguments) =>
        HostCommand.CheckAsync("ctr", ["--address", Address, "--namespace", @namespace, .. arguments]);

    /// <summary>Marks a namespace to be emptied and removed when the instance stops.</summary>
    public void Owns(string @namespace)
    {
        lock (_namespaces)
        {
            _namespaces.Add(@namespace);
        }
    }

    /// <summary>Builds the busybox test image and imports it into <paramref name="namespace"/>.</summary>
    public async Task<string> ImportTestImageAsync(string @namespace)
    {
        Owns(@namespace);
        var script = Path.Combine(HostCommand.RepositoryRoot(), "scripts", "build-test-image.sh");
        var output = await HostCommand.CheckAsync("bash", [script, Path.Combine(Directory, "image"), Address, @namespace]);
        return output.Trim().Split('\n')[^1];
    }

    /// <summary>Removes every task, container and image of the namespace, then the namespace.</summary>
    public async Task EmptyNamespaceAsync(string @namespace)
    {
        string[] ctr = ["--address", Address, "--namespace", @namespace];
        // Again until none is left: an agent still winding down may start or stop one meanwhile.
        var deadline = Stopwatch.StartNew();
        while (Lines((await HostCommand.RunAsync("ctr", [.. ctr, "tasks", "list", "--quiet"])).StandardOutput).ToList() is { Count: > 0 } tasks
            && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.WhenAll(tasks.Select(id => HostCommand.RunAsync("ctr", [.. ctr, "tasks", "delete", "--force", id])));
        }
        var containers = await HostCommand.RunAsync("ctr", [.. ctr, "containers", "list", "--quiet"]);
        foreach (var id in Lines(containers.StandardOutput))
        {
            await HostCommand.RunAsync("ctr", [.. ctr, "containers", "delete", id]);
        }
        var images = await HostCommand.RunAsync("ctr", [.. ctr, "images", "list", "--quiet"]);
        var refs = Lines(images.StandardOutput).ToList();
        if (refs.Count > 0)
        {
            await HostCommand.RunAsync("ctr", [.. ctr, "images", "remove", "--sync", .. refs]);
        }
        await HostCommand.RunAsync("ctr", ["--address", Address, "namespaces", "remove", @namespace]);
    }

    public async ValueTask DisposeAsync()
    {
        List<string> namespaces;
        lock (_namespaces)
        {
            namespaces = [.. _namespaces];
        }
        if (_stoppedOnPurpose)
        {
            // Stopped by a test that did not get to start it again: its containers are still
            // there to be removed, which needs the daemon.
            try
            {
                await StartDaemonAsync(TimeSpan.FromSeconds(20));
            }
            catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
            {
            }
        }
        if (!_process.HasExited)
        {
            foreach (var ns in namespaces)
            {
                await EmptyNamespaceAsync(ns);
            }
            await TerminateAsync();
        }
        // Shims outlive containerd by design; those started for this socket are ours to end.
        foreach (var pid in ShimPids())
        {
            try
            {
                Process.GetProcessById(pid).Kill();
            }
            catch (ArgumentException)
            {
            }
        }
        foreach (var ns in namespaces)
        {
            // Container processes whose shim is gone (only if a task could not be deleted above)
            // would keep their network namespaces alive: they are ours, end them.
            foreach (var pid in CgroupProcesses(ns))
            {
                try
                {
                    Process.GetProcessById(pid).Kill();
                }
                catch (ArgumentException)
                {
                }
            }
            RemoveCgroups(ns);
            TryDelete(Path.Combine("/run/containerd/runc", ns));
        }
        foreach (var mountPoint in MountsUnder(Directory))
        {
            await HostCommand.RunAsync("umount", ["--lazy", mountPoint]);
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        _process.Dispose();
    }

    /// <summary>The cgroup directories containerd made for a namespace (/{ns} in each hierarchy).</summary>
    public static void RemoveCgroups(string @namespace)
    {
        if (!System.IO.Directory.Exists("/sys/fs/cgroup"))
        {
            return;
        }
        var candidates = System.IO.Directory.EnumerateDirectories("/sys/fs/cgroup").Select(h => Path.Combine(h, @namespace))
            .Append(Path.Combine("/sys/fs/cgroup", @namespace));
        foreach (var dir in candidates.Where(System.IO.Directory.Exists))
        {
            // Children first; rmdir on cgroupfs removes a group with no processes and no children.
            foreach (var child in System.IO.Directory.EnumerateDirectories(dir))
            {
                TryDelete(child);
            }
            TryDelete(dir);
        }
    }

    /// <summary>The processes in the cgroups containerd made for a namespace's containers.</summary>
    public static IReadOnlyList<int> CgroupProcesses(string @namespace)
    {
        if (!System.IO.Directory.Exists("/sys/fs/cgroup"))
        {
            return [];
        }
        var roots = System.IO.Directory.EnumerateDirectories("/sys/fs/cgroup").Select(h => Path.Combine(h, @namespace))
            .Append(Path.Combine("/sys/fs/cgroup", @namespace))
            .Where(System.IO.Directory.Exists);
        var pids = new HashSet<int>();
        foreach (var file in roots.SelectMany(r => System.IO.Directory.EnumerateFiles(r, "cgroup.procs", SearchOption.AllDirectories)))
        {
            try
            {
                foreach (var line in File.ReadLines(file))
                {
                    if (int.TryParse(line, out var pid))
                    {
                        pids.Add(pid);
                    }
                }
            }
            catch (IOException)
            {
            }
        }
        return [.. pids];
    }

    public static IReadOnlyList<string> MountsUnder(string directory)
    {
        var root = Path.GetFullPath(directory).TrimEnd('/');
        return File.ReadLines("/proc/self/mountinfo")
            .Select(l => l.Split(' '))
            .Where(f => f.Length > 4)
            .Select(f => f[4].Replace("\\040", " ", StringComparison.Ordinal))
            .Where(mp => mp == root || mp.StartsWith(root + "/", StringComparison.Ordinal))
            .Distinct()
            .OrderByDescending(mp => mp.Length)
            .ToList();
    }

    private IEnumerable<int> ShimPids()
    {
        foreach (var dir in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            string cmdline;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            var args = cmdline.Split('\0');
            if (args.Length > 0 && args[0].Contains("containerd-shim", StringComparison.Ordinal) && args.Contains(Address))
            {
                yield return pid;
            }
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            System.IO.Directory.Delete(dir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static IEnumerable<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            if (_log.Length < 1_000_000)
            {
                _log.AppendLine(line);
            }
        }
    }
}
