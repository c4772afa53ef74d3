using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Orchestrator.Model;

namespace Orchestrator.NodeAgent.Runtime.Containerd;

/// <summary>
/// Containers: what runs is known from an in-memory view, refreshed from containerd at most every
/// <see cref="ListMaxAge"/> (two <c>ctr</c> calls: the container ids and the task states), and
/// changed in place by this agent's own starts and removals. ListContainersAsync is called every
/// second by the agent's relist loop and by every pod worker pass, so it must be cheap; the view
/// is rebuilt from container labels for containers it has not seen (after an agent restart).
/// </summary>
public sealed partial class ContainerdRuntime
{
    /// <summary>How stale a container list may be. Below the agent's 1 s relist, so each relist
    /// sees containerd's state, while a burst of pod worker passes shares one refresh.</summary>
    private static readonly TimeSpan ListMaxAge = TimeSpan.FromMilliseconds(500);

    /// <summary>How often a stop checks whether the task has exited.</summary>
    private static readonly TimeSpan StopPoll = TimeSpan.FromMilliseconds(100);

    /// <summary>How long to wait for a task to die after SIGKILL before giving up on it.</summary>
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(10);

    /// <summary>Kubernetes' code and reason for a container whose end nobody saw.</summary>
    private const int UnknownExitCode = 137;
    private const string UnknownReason = "ContainerStatusUnknown";

    private readonly ConcurrentDictionary<string, Entry> _containers = new(StringComparer.Ordinal);

    /// <summary>Ids being started or removed right now: a refresh leaves them alone.</summary>
    private readonly ConcurrentDictionary<string, byte> _busy = new(StringComparer.Ordinal);

    /// <summary>Containers in our namespace without our labels: not ours, never touched.</summary>
    private readonly ConcurrentDictionary<string, byte> _foreign = new(StringComparer.Ordinal);

    private readonly SemaphoreSlim _refreshGate = new(1, 1);

    /// <summary>
    /// How many container starts (and sandbox set-ups) run at once. A start is mostly CPU (ctr,
    /// the shim, runc, the CNI plugins); a burst of them all at once shares the cores so evenly
    /// that every pod of the burst becomes Running only at its very end. A gate of about one
    /// start per core lets pods finish one after another instead, the first ones early, without
    /// making the whole burst slower.
    /// </summary>
    private readonly SemaphoreSlim _startGate = new(Math.Max(2, Environment.ProcessorCount));
    private long _lastRefreshBegan;
    private bool _refreshedOnce;

    public async Task<IReadOnlyList<RuntimeContainer>> ListContainersAsync(CancellationToken cancellationToken)
    {
        await EnsureFreshAsync(ListMaxAge, cancellationToken);
        return _containers.Values.Select(e => e.Container).ToList();
    }

    public async Task<string> StartContainerAsync(Pod pod, Container container, Sandbox sandbox, int attempt, IReadOnlyList<AgentMount> agentMounts, CancellationToken cancellationToken)
    {
        var uid = pod.Metadata.Uid!;
        var id = ContainerLabels.ContainerId(uid, container.Name, attempt);
        var image = ImageReference.Normalize(container.Image ?? throw new RuntimeException("InvalidImageName", $"container {container.Name} has no image"));
        var mounts = (await _volumes.PrepareAsync(pod, container, cancellationToken))
            .Concat(agentMounts.Select(m => $"type=bind,src={m.Source},dst={m.Destination},options=rbind:{(m.ReadOnly ? "ro" : "rw")}"))
            .ToList();
        var argv = await ArgvAsync(image, container, cancellationToken);
        var security = await SecurityArgsAsync(image, pod, container, cancellationToken);
        if (!_busy.TryAdd(id, 0))
        {
            throw new RuntimeException("CreateContainerError", $"container {id} is being started or removed already");
        }
        try
        {
            var log = _logs.Prepare(uid, container.Name, attempt);
            var startedAt = _time.GetUtcNow();
            var labels = new Dictionary<string, string>
            {
                [ContainerLabels.PodUid] = uid,
                [ContainerLabels.PodNamespace] = pod.Metadata.Namespace ?? "",
                [ContainerLabels.PodName] = pod.Metadata.Name ?? "",
                [ContainerLabels.ContainerName] = container.Name,
                [ContainerLabels.Attempt] = attempt.ToString(CultureInfo.InvariantCulture),
                [ContainerLabels.Image] = container.Image!,
                [ContainerLabels.StartedAt] = ContainerLabels.FormatTime(startedAt),
            };
            var args = new List<string> { "run", "--detach", "--log-uri", new Uri(log).AbsoluteUri };
            if (sandbox.NetworkNamespace is { Length: > 0 } netns)
            {
                args.AddRange(["--with-ns", $"network:{netns}"]);
            }
            foreach (var (key, value) in labels)
            {
                args.AddRange(["--label", $"{key}={value}"]);
            }
            foreach (var env in container.Env ?? [])
            {
                args.AddRange(["--env", $"{env.Name}={env.Value}"]);
            }
            if (!string.IsNullOrEmpty(container.WorkingDir))
            {
                args.AddRange(["--cwd", container.WorkingDir]);
            }
            var limits = container.Resources?.Limits;
            if (limits is not null && limits.TryGetValue(ResourceName.Cpu, out var cpu) && cpu.MilliValue > 0)
            {
                // CFS quota over the default 100 ms period: "500m" is 50 ms of cpu time per period.
                args.AddRange(["--cpus", (cpu.MilliValue / 1000m).ToString(CultureInfo.InvariantCulture)]);
            }
            if (limits is not null && limits.TryGetValue(ResourceName.Memory, out var memory) && memory.WholeValue > 0)
            {
                args.AddRange(["--memory-limit", memory.WholeValue.ToString(CultureInfo.InvariantCulture)]);
            }
            foreach (var mount in mounts)
            {
                args.AddRange(["--mount", mount]);
            }
            args.AddRange(security);
            args.Add(image);
            args.Add(id);
            args.AddRange(argv);
            ToolResult result;
            await _startGate.WaitAsync(cancellationToken);
            try
            {
                result = await _ctr.RunAsync(args, cancellationToken);
                if (!result.Succeeded && result.StandardError.Contains("already exists", StringComparison.Ordinal))
                {
                    // What is left of a start that did not finish (the agent died half-way):
                    // start over. Asking first would cost every start a ctr call.
                    await DeleteAsync(id, cancellationToken);
                    result = await _ctr.RunAsync(args, cancellationToken);
                }
            }
            finally
            {
                _startGate.Release();
            }
            if (!result.Succeeded)
            {
                // ctr leaves the container behind when its task fails to start.
                await DeleteAsync(id, CancellationToken.None);
                _logs.Delete(uid, container.Name, attempt);
                var reason = result.StandardError.Contains("OCI runtime", StringComparison.Ordinal) || result.StandardError.Contains("failed to create shim task", StringComparison.Ordinal)
                    ? "RunContainerError"
                    : "CreateContainerError";
                throw new RuntimeException(reason, $"failed to start container {container.Name}: {result.ErrorMessage}");
            }
            _containers[id] = Entry.FromLabels(id, labels, _time.GetTimestamp()) is { } started
                ? started with { Container = started.Container with { State = ContainerRunState.Running, Image = image } }
                : throw new InvalidOperationException($"container {id} was labelled without its pod");
            LogContainerStarted(_logger, id, pod.Key(), container.Name, attempt);
            return id;
        }
        finally
        {
            _busy.TryRemove(id, out _);
        }
    }

    /// <summary>SIGTERM, then SIGKILL to every process of the container after the grace period;
    /// returns once the task has exited and its exit status is recorded.</summary>
    public async Task StopContainerAsync(string containerId, TimeSpan grace, CancellationToken cancellationToken)
    {
        if (!await IsRunningAsync(containerId, cancellationToken))
        {
            return;
        }
        var term = await _ctr.RunAsync(["tasks", "kill", "--signal", "SIGTERM", containerId], cancellationToken);
        if (!term.Succeeded && !term.NotFound)
        {
            LogSignalFailed(_logger, "SIGTERM", containerId, term.ErrorMessage);
        }
        if (await WaitForExitAsync(containerId, grace, cancellationToken))
        {
            return;
        }
        LogKilling(_logger, containerId, grace);
        var kill = await _ctr.RunAsync(["tasks", "kill", "--all", "--signal", "SIGKILL", containerId], cancellationToken);
        if (!kill.Succeeded && !kill.NotFound)
        {
            LogSignalFailed(_logger, "SIGKILL", containerId, kill.ErrorMessage);
        }
        if (!await WaitForExitAsync(containerId, KillWait, cancellationToken))
        {
            throw new RuntimeException("KillContainerError", $"container {containerId} did not exit {KillWait.TotalSeconds} s after SIGKILL");
        }
    }

    public async Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        if (!_busy.TryAdd(containerId, 0))
        {
            return;
        }
        try
        {
            _containers.TryGetValue(containerId, out var entry);
            await DeleteAsync(containerId, cancellationToken);
            _containers.TryRemove(containerId, out _);
            if (entry is not null)
            {
                _logs.Delete(entry.Container.PodUid, entry.Container.Name, entry.Container.Attempt);
            }
            LogContainerRemoved(_logger, containerId);
        }
        finally
        {
            _busy.TryRemove(containerId, out _);
        }
    }

    private async Task<bool> IsRunningAsync(string id, CancellationToken cancellationToken)
    {
        await EnsureFreshAsync(ListMaxAge, cancellationToken);
        return _containers.TryGetValue(id, out var e) && e.State != ContainerRunState.Exited;
    }

    private async Task<bool> WaitForExitAsync(string id, TimeSpan limit, CancellationToken cancellationToken)
    {
        var began = _time.GetTimestamp();
        while (true)
        {
            await EnsureFreshAsync(TimeSpan.Zero, cancellationToken);
            if (!_containers.TryGetValue(id, out var e) || e.State == ContainerRunState.Exited)
            {
                return true;
            }
            if (_time.GetElapsedTime(began) >= limit)
            {
                return false;
            }
            await Task.Delay(StopPoll, _time, cancellationToken);
        }
    }

    /// <summary>Deletes the task (killing it) and the container with its snapshot; what is gone
    /// already is fine.</summary>
    private async Task DeleteAsync(string id, CancellationToken cancellationToken)
    {
        var task = await _ctr.RunAsync(["tasks", "delete", "--force", id], cancellationToken);
        if (!task.Succeeded && !task.NotFound)
        {
            LogDeleteFailed(_logger, "task", id, task.ErrorMessage);
        }
        var container = await _ctr.RunAsync(["containers", "delete", id], cancellationToken);
        if (!container.Succeeded && !container.NotFound)
        {
            throw new RuntimeException("RemoveContainerError", $"removing container {id}: {container.ErrorMessage}");
        }
    }

    /// <summary>Refreshes the view unless the last refresh began less than
    /// <paramref name="maxAge"/> ago. Callers that queue behind a refresh which began after they
    /// asked use its result rather than starting another: a burst of callers costs one refresh.</summary>
    private async Task EnsureFreshAsync(TimeSpan maxAge, CancellationToken cancellationToken)
    {
        var asked = _time.GetTimestamp();
        if (_refreshedOnce && maxAge > TimeSpan.Zero && _time.GetElapsedTime(Volatile.Read(ref _lastRefreshBegan)) < maxAge)
        {
            return;
        }
        await _refreshGate.WaitAsync(cancellationToken);
        try
        {
            if (_refreshedOnce && (_lastRefreshBegan >= asked || (maxAge > TimeSpan.Zero && _time.GetElapsedTime(_lastRefreshBegan) < maxAge)))
            {
                return;
            }
            var began = _time.GetTimestamp();
            await RefreshAsync(began, cancellationToken);
            Volatile.Write(ref _lastRefreshBegan, began);
            _refreshedOnce = true;
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    private async Task RefreshAsync(long began, CancellationToken cancellationToken)
    {
        var listing = _ctr.RunAsync(["containers", "list", "--quiet"], cancellationToken);
        var tasking = _ctr.RunAsync(["tasks", "list"], cancellationToken);
        var (list, tasks) = (await listing, await tasking);
        if (!list.Succeeded || !tasks.Succeeded)
        {
            throw new InvalidOperationException($"listing containers in containerd namespace {_ctr.Namespace}: {(list.Succeeded ? tasks : list).ErrorMessage}");
        }
        var ids = list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var states = ParseTasks(tasks.StandardOutput);

        foreach (var id in _containers.Keys)
        {
            if (!ids.Contains(id) && !_busy.ContainsKey(id) && _containers.TryGetValue(id, out var gone) && gone.Seen <= began)
            {
                // Removed behind our back (ctr c rm by hand): it no longer exists.
                _containers.TryRemove(id, out _);
            }
        }

        // Containers we have not seen: after an agent restart, all of them. Their labels say
        // whose they are; this is the re-adoption that keeps a restart from duplicating pods.
        var unknown = ids.Where(id => !_containers.ContainsKey(id) && !_foreign.ContainsKey(id) && !_busy.ContainsKey(id)).ToList();
        await Parallel.ForEachAsync(unknown, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (id, ct) =>
        {
            var info = await _ctr.RunAsync(["containers", "info", id], ct);
            if (!info.Succeeded)
            {
                return;
            }
            var labels = ParseLabels(info.StandardOutput);
            if (Entry.FromLabels(id, labels, began) is { } entry)
            {
                if (_containers.TryAdd(id, entry))
                {
                    LogAdopted(_logger, id, entry.Container.PodKey);
                }
            }
            else
            {
                _foreign.TryAdd(id, 0);
            }
        });

        foreach (var entry in _containers.Values)
        {
            // Skip what changes under our own hands, and what appeared after these lists were
            // taken (a container started meanwhile is missing from them but is not gone).
            if (_busy.ContainsKey(entry.Id) || entry.Seen > began || entry.State == ContainerRunState.Exited)
            {
                continue;
            }
            switch (states.GetValueOrDefault(entry.Id))
            {
                case "RUNNING" or "PAUSED" or "PAUSING":
                    if (entry.State != ContainerRunState.Running)
                    {
                        _containers.TryUpdate(entry.Id, entry with { Container = entry.Container with { State = ContainerRunState.Running } }, entry);
                    }
                    break;
                case "STOPPED":
                    await ReapAsync(entry, cancellationToken);
                    break;
                default:
                    // No task (deleted by hand), or one created but never started (the agent died
                    // in the middle of ctr run): nobody saw it end.
                    await RecordExitAsync(entry, UnknownExitCode, UnknownReason, deleteTask: states.ContainsKey(entry.Id), cancellationToken);
                    break;
            }
        }
    }

    /// <summary>Deletes an exited task, which is how ctr tells its exit code, and records the exit
    /// in the container's labels, where it survives agent restarts.</summary>
    private async Task ReapAsync(Entry entry, CancellationToken cancellationToken)
    {
        // The memory cgroup goes with the task: read its OOM count first.
        var oomKilled = OomKilled(entry.Id);
        var deleted = await _ctr.RunAsync(["tasks", "delete", entry.Id], cancellationToken);
        if (!deleted.Succeeded)
        {
            if (!deleted.NotFound)
            {
                LogDeleteFailed(_logger, "task", entry.Id, deleted.ErrorMessage);
            }
            return;
        }
        // ctr reports a non-zero exit as a warning: "task X exit with non-zero exit code 3".
        var match = ExitCodePattern().Match(deleted.StandardError);
        var exitCode = match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var reason = oomKilled ? "OOMKilled" : exitCode == 0 ? "Completed" : "Error";
        await RecordExitAsync(entry, exitCode, reason, deleteTask: false, cancellationToken);
    }

    private async Task RecordExitAsync(Entry entry, int exitCode, string reason, bool deleteTask, CancellationToken cancellationToken)
    {
        if (deleteTask)
        {
            await _ctr.RunAsync(["tasks", "delete", "--force", entry.Id], cancellationToken);
        }
        var finishedAt = _time.GetUtcNow();
        var label = await _ctr.RunAsync(
        [
            "containers", "label", entry.Id,
            $"{ContainerLabels.ExitCode}={exitCode.ToString(CultureInfo.InvariantCulture)}",
            $"{ContainerLabels.Reason}={reason}",
            $"{ContainerLabels.FinishedAt}={ContainerLabels.FormatTime(finishedAt)}",
        ], cancellationToken);
        if (!label.Succeeded && !label.NotFound)
        {
            LogLabelFailed(_logger, entry.Id, label.ErrorMessage);
        }
        _containers.TryUpdate(entry.Id, entry with { Container = entry.Container with { State = ContainerRunState.Exited, ExitCode = exitCode, Reason = reason, FinishedAt = finishedAt } }, entry);
        LogContainerExited(_logger, entry.Id, exitCode, reason);
    }

    /// <summary>True when the kernel's OOM killer killed a process of the container: containerd
    /// puts a container's cgroup at /{namespace}/{id}, whose oom_kill counter says so (cgroup v1:
    /// memory.oom_control; v2: memory.events).</summary>
    private bool OomKilled(string id)
    {
        foreach (var file in new[]
        {
            $"/sys/fs/cgroup/memory/{_ctr.Namespace}/{id}/memory.oom_control",
            $"/sys/fs/cgroup/{_ctr.Namespace}/{id}/memory.events",
        })
        {
            try
            {
                foreach (var line in File.ReadLines(file))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (parts.Length == 2 && parts[0] == "oom_kill" && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var kills))
                    {
                        return kills > 0;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
        return false;
    }

    /// <summary>"TASK PID STATUS" lines into id -> status.</summary>
    private static Dictionary<string, string> ParseTasks(string text)
    {
        var states = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n').Skip(1))
        {
            var fields = line.Split(' ', '\t').Where(f => f.Length > 0).ToArray();
            if (fields.Length >= 3)
            {
                states[fields[0]] = fields[2];
            }
        }
        return states;
    }

    private static Dictionary<string, string> ParseLabels(string infoJson)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(infoJson);
            if (doc.RootElement.TryGetProperty("Labels", out var l) && l.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in l.EnumerateObject())
                {
                    labels[p.Name] = p.Value.GetString() ?? "";
                }
            }
        }
        catch (JsonException)
        {
        }
        return labels;
    }

    [GeneratedRegex(@"exit code (\d+)")]
    private static partial Regex ExitCodePattern();

    /// <summary>One container as this agent knows it. <see cref="Seen"/> is when it entered the
    /// view (a <see cref="TimeProvider"/> timestamp).</summary>
    private sealed record Entry(RuntimeContainer Container, long Seen)
    {
        public string Id => Container.Id;

        public ContainerRunState State => Container.State;

        public static Entry? FromLabels(string id, IReadOnlyDictionary<string, string> labels, long seen)
        {
            if (!labels.TryGetValue(ContainerLabels.PodUid, out var uid) || !labels.TryGetValue(ContainerLabels.ContainerName, out var name))
            {
                return null;
            }
            var exitCode = ContainerLabels.ParseInt(labels, ContainerLabels.ExitCode);
            var podKey = $"{labels.GetValueOrDefault(ContainerLabels.PodNamespace, "")}/{labels.GetValueOrDefault(ContainerLabels.PodName, "")}";
            return new Entry(
                new RuntimeContainer(
                    id,
                    uid,
                    podKey,
                    name,
                    ContainerLabels.ParseInt(labels, ContainerLabels.Attempt) ?? 0,
                    labels.TryGetValue(ContainerLabels.Image, out var image) && image.Length > 0 ? ImageReference.Normalize(image) : "",
                    exitCode is null ? ContainerRunState.Created : ContainerRunState.Exited,
                    exitCode,
                    labels.GetValueOrDefault(ContainerLabels.Reason),
                    ContainerLabels.ParseTime(labels, ContainerLabels.StartedAt),
                    ContainerLabels.ParseTime(labels, ContainerLabels.FinishedAt)),
                seen);
        }
    }
}
