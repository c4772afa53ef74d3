using Microsoft.Extensions.Logging;
using Orchestrator.Calls;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.Serialization;
using Orchestrator.NodeProtocol;

namespace Orchestrator.NodeAgent.Agent;

/// <summary>
/// Makes one pod's containers match its spec (Kubernetes' pod worker and SyncPod): starts the
/// sandbox and the containers, restarts exited ones per restartPolicy with back-off, stops them
/// when the pod is deleted, and reports the pod's status. One pass at a time; a pass runs when
/// the pod or its containers change, and when a back-off or probe is due.
/// </summary>
internal sealed partial class PodWorker : IAsyncDisposable
{
    private readonly NodeContext _node;
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, Backoff> _backoff = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Reason, string Message)> _waiting = new(StringComparer.Ordinal);
    private readonly Task _loop;
    private Pod _pod;
    private PodStatus? _reported;
    private DateTimeOffset? _startTime;
    private readonly ServiceAccountTokenVolume _token;

    public PodWorker(NodeContext node, Pod pod)
    {
        _node = node;
        _pod = pod;
        _token = new ServiceAccountTokenVolume(node, pod.Metadata.Uid!);
        _startTime = pod.Status?.StartTime;
        Probes = new ProbeManager(node, this);
        _loop = Task.Run(RunAsync);
    }

    public string Uid => _pod.Metadata.Uid!;

    public Pod Pod => _pod;

    internal ProbeManager Probes { get; }

    /// <summary>True once the pod was terminated and removed; the agent then drops the worker.</summary>
    public bool Finished { get; private set; }

    /// <summary>The pod as last seen by this worker (its resourceVersion as a number; 0 if none).</summary>
    public long ResourceVersion => VersionOf(_pod);

    /// <summary>A newer version of the pod. An older one is ignored: the watch and the agent's
    /// fence both hand pods over, and a fresher object (deleting, say) must never be replaced by a
    /// stale one, which could start again what was just stopped.</summary>
    public void Update(Pod pod)
    {
        if (VersionOf(pod) < VersionOf(_pod))
        {
            return;
        }
        _pod = pod;
        Kick();
    }

    /// <summary>Sends the pod's status again on the next pass even if it looks unchanged: after a
    /// fence, the control plane may hold something else than what this worker last reported.</summary>
    public void ResumeReports()
    {
        Volatile.Write(ref _reported, null);
        Kick();
    }

    private static long VersionOf(Pod pod) =>
        long.TryParse(pod.Metadata.ResourceVersion, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : 0;

    public void Kick()
    {
        lock (_signal)
        {
            if (_signal.CurrentCount == 0)
            {
                _signal.Release();
            }
        }
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested && !Finished)
        {
            TimeSpan wait;
            try
            {
                wait = await SyncAsync(_pod, token);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogSyncFailed(_node.Logger, ex, _pod.Key());
                wait = TimeSpan.FromSeconds(1);
            }
            if (Finished)
            {
                return;
            }
            try
            {
                await _signal.WaitAsync(wait, token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One pass. Returns how long to wait before the next one if nothing happens.</summary>
    private async Task<TimeSpan> SyncAsync(Pod pod, CancellationToken token)
    {
        var now = _node.Time.GetUtcNow();
        if (pod.Metadata.DeletionTimestamp is not null)
        {
            await TerminateAsync(pod, token);
            return Timeout.InfiniteTimeSpan;
        }
        var mine = (await _node.Runtime.ListContainersAsync(token)).Where(c => c.PodUid == Uid).ToList();
        if (pod.IsTerminal())
        {
            // Finished pods keep their exited containers (for logs) but give their network back.
            // A pod the control plane failed (its node was lost) may still run here: stop it.
            Probes.Stop();
            var grace = TimeSpan.FromSeconds(pod.Spec.TerminationGracePeriodSeconds ?? Defaults.TerminationGracePeriodSeconds);
            await Task.WhenAll(mine.Where(c => c.State == ContainerRunState.Running).Select(c => _node.Runtime.StopContainerAsync(c.Id, grace, token)));
            await _node.Runtime.RemoveSandboxAsync(Uid, token);
            return TimeSpan.FromMinutes(1);
        }
        Sandbox sandbox;
        try
        {
            sandbox = await _node.Runtime.RunSandboxAsync(pod, token);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            foreach (var c in pod.Spec.Containers)
            {
                _waiting[c.Name] = ("ContainerCreating", $"failed to create the pod sandbox: {ex.Message}");
            }
            await ReportAsync(pod, BuildStatus(pod, mine, null, now), token);
            return TimeSpan.FromSeconds(2);
        }
        IReadOnlyList<AgentMount> agentMounts;
        try
        {
            agentMounts = await _token.EnsureAsync(pod, token);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The kubelet leaves such a pod in ContainerCreating and tries the volume again.
            foreach (var c in pod.Spec.Containers)
            {
                _waiting[c.Name] = ("ContainerCreating", $"MountVolume.SetUp failed for volume \"kube-api-access\": failed to fetch token: {ex.Message}");
            }
            await ReportAsync(pod, BuildStatus(pod, mine, sandbox, now), token);
            return TimeSpan.FromSeconds(2);
        }
        _startTime ??= now;

        var next = _token.RefreshDue(now) is { } refresh ? Min(TimeSpan.FromSeconds(30), Max(refresh, TimeSpan.Zero)) : TimeSpan.FromSeconds(30);
        var changed = false;
        foreach (var container in pod.Spec.Containers)
        {
            var attempts = mine.Where(c => c.Name == container.Name).OrderBy(c => c.Attempt).ToList();
            var latest = attempts.LastOrDefault();
            if (latest?.State == ContainerRunState.Running)
            {
                _waiting.Remove(container.Name);
                continue;
            }
            if (latest is not null && !ShouldRestart(pod.Spec.RestartPolicy, latest))
            {
                continue;
            }
            if (latest is not null && latest.StartedAt is { } started && latest.FinishedAt is { } finished && finished - started >= _node.Options.BackoffReset)
            {
                // It ran long enough: a new crash starts the back-off over (Kubernetes: 10 minutes).
                _backoff.Remove(container.Name);
            }
            if (latest is not null && _backoff.TryGetValue(container.Name, out var b) && now < b.LastStart + b.Delay)
            {
                _waiting[container.Name] = ("CrashLoopBackOff", $"back-off {Format(b.Delay)} restarting failed container={container.Name} pod={pod.Metadata.Name}_{pod.Metadata.Namespace}({Uid})");
                next = Min(next, b.LastStart + b.Delay - now);
                continue;
            }
            var attempt = latest is null ? 0 : latest.Attempt + 1;
            try
            {
                await _node.Runtime.EnsureImageAsync(container.Image!, container.ImagePullPolicy ?? "IfNotPresent", token);
                await _node.Runtime.StartContainerAsync(pod, container, sandbox, attempt, agentMounts, token);
                _waiting.Remove(container.Name);
                changed = true;
            }
            catch (RuntimeException ex)
            {
                _waiting[container.Name] = (ex.Reason, ex.Message);
                next = Min(next, TimeSpan.FromSeconds(5));
            }
            if (latest is not null)
            {
                // A restart: the next one waits longer (10 s doubling to 5 minutes).
                var delay = _backoff.TryGetValue(container.Name, out var prev)
                    ? Min(prev.Delay * 2, _node.Options.MaxRestartBackoff)
                    : _node.Options.RestartBackoff;
                _backoff[container.Name] = new Backoff(now, delay);
            }
            // Keep the newest exited attempt (it is lastState); older ones only take space.
            foreach (var old in attempts.Where(a => a.State != ContainerRunState.Running && a != latest))
            {
                await _node.Runtime.RemoveContainerAsync(old.Id, token);
            }
        }
        if (changed)
        {
            mine = (await _node.Runtime.ListContainersAsync(token)).Where(c => c.PodUid == Uid).ToList();
        }
        Probes.Sync(pod, mine);
        await ReportAsync(pod, BuildStatus(pod, mine, sandbox, now), token);
        return Min(next, Probes.NextDue(now));
    }

    private static bool ShouldRestart(string? policy, RuntimeContainer exited) =>
        exited.State == ContainerRunState.Exited && policy switch
        {
            RestartPolicy.Never => false,
            RestartPolicy.OnFailure => exited.ExitCode != 0,
            _ => true,
        };

    private async Task TerminateAsync(Pod pod, CancellationToken token)
    {
        var grace = TimeSpan.FromSeconds(pod.Metadata.DeletionGracePeriodSeconds ?? pod.Spec.TerminationGracePeriodSeconds ?? Defaults.TerminationGracePeriodSeconds);
        Probes.Stop();
        var containers = (await _node.Runtime.ListContainersAsync(token)).Where(c => c.PodUid == Uid).ToList();
        await Task.WhenAll(containers.Where(c => c.State == ContainerRunState.Running)
            .Select(c => _node.Runtime.StopContainerAsync(c.Id, grace, token)));
        foreach (var c in containers)
        {
            await _node.Runtime.RemoveContainerAsync(c.Id, token);
        }
        await _node.Runtime.RemoveSandboxAsync(Uid, token);
        await _node.Grains.GetGrain<IPodStatusReportGrain>(pod.Key()).FinishTerminationAsync(_node.NodeName, Uid);
        Finished = true;
        _node.WorkerFinished(this);
    }

    private async Task ReportAsync(Pod pod, PodStatus status, CancellationToken token)
    {
        if (_node.ReportsPaused)
        {
            // Out of contact, or not yet fenced after it: the agent reports once it knows the
            // control plane's current view (ResumeReports).
            return;
        }
        if (Volatile.Read(ref _reported) is { } reported && ResourceJson.DeepEquals(status, reported))
        {
            return;
        }
        Task<Pod?> call;
        // A report is not retried for longer than a heartbeat: reports stop while the agent is out
        // of contact, and one still being retried when contact returns would land before the fence.
        using (CallDeadline.Within(_node.Options.HeartbeatTimeout))
        {
            call = _node.Grains.GetGrain<IPodStatusReportGrain>(pod.Key()).ReportStatusAsync(_node.NodeName, Uid, status);
        }
        var stored = await call.WaitAsync(_node.Options.CallTimeout, _node.Time, token);
        if (stored is null)
        {
            // The control plane says this pod is not ours (deleted and replaced, or moved):
            // stop acting on it; the next resync decides what runs here.
            LogNotOurs(_node.Logger, pod.Key());
            return;
        }
        _reported = status;
    }

    /// <summary>The pod's status from its containers, as the kubelet computes it.</summary>
    private PodStatus BuildStatus(Pod pod, IReadOnlyList<RuntimeContainer> mine, Sandbox? sandbox, DateTimeOffset now)
    {
        var statuses = new List<ContainerStatus>();
        int running = 0, waiting = 0, succeeded = 0, failed = 0;
        foreach (var container in pod.Spec.Containers)
        {
            var attempts = mine.Where(c => c.Name == container.Name).OrderBy(c => c.Attempt).ToList();
            var latest = attempts.LastOrDefault();
            var previous = attempts.Count > 1 ? attempts[^2] : null;
            ContainerState state;
            ContainerState? lastState = previous is null ? null : new ContainerState { Terminated = Terminated(previous) };
            var ready = false;
            bool? started = null;
            if (latest?.State == ContainerRunState.Running)
            {
                state = new ContainerState { Running = new ContainerStateRunning { StartedAt = latest.StartedAt } };
                started = Probes.Started(container.Name);
                ready = Probes.Ready(container.Name);
                running++;
            }
            else if (latest is not null && _waiting.TryGetValue(container.Name, out var w))
            {
                state = new ContainerState { Waiting = new ContainerStateWaiting { Reason = w.Reason, Message = w.Message } };
                lastState = new ContainerState { Terminated = Terminated(latest) };
                started = false;
                waiting++;
                // A container between restarts still counts as running for the pod's phase.
                running++;
            }
            else if (latest is not null)
            {
                state = new ContainerState { Terminated = Terminated(latest) };
                started = false;
                if (ShouldRestart(pod.Spec.RestartPolicy, latest))
                {
                    // Exited but due for a restart (a real container can exit between its start
                    // and this status): the pod is still running, as Kubernetes' getPhase has it
                    // for restartPolicy Always and OnFailure. Counting it as finished would
                    // report a terminal phase, after which the pod is never restarted.
                    running++;
                }
                else if (latest.ExitCode == 0)
                {
                    succeeded++;
                }
                else
                {
                    failed++;
                }
            }
            else
            {
                var (reason, message) = _waiting.TryGetValue(container.Name, out var w2) ? w2 : ("ContainerCreating", (string?)null);
                state = new ContainerState { Waiting = new ContainerStateWaiting { Reason = reason, Message = message } };
                waiting++;
            }
            statuses.Add(new ContainerStatus
            {
                Name = container.Name,
                State = state,
                LastState = lastState,
                Ready = ready,
                RestartCount = latest?.Attempt ?? 0,
                Image = container.Image,
                ImageID = latest is null ? null : latest.Image,
                ContainerID = latest is null ? null : $"{RuntimeScheme}://{latest.Id}",
                Started = started,
            });
        }
        var total = pod.Spec.Containers.Count;
        string phase;
        if (succeeded + failed == total && total > 0)
        {
            phase = failed == 0 ? PodPhase.Succeeded : PodPhase.Failed;
        }
        else if (running > 0 || succeeded + failed > 0)
        {
            phase = PodPhase.Running;
        }
        else
        {
            phase = PodPhase.Pending;
        }
        var allReady = statuses.Count > 0 && statuses.All(s => s.Ready);
        var terminal = phase is PodPhase.Succeeded or PodPhase.Failed;
        var conditions = pod.Status?.Conditions;
        conditions = Conditions.Set(conditions, new Condition { Type = PodConditionType.Initialized, Status = ConditionStatus.True }, now);
        conditions = Conditions.Set(conditions, ReadyCondition(PodConditionType.ContainersReady, allReady, terminal, statuses), now);
        conditions = Conditions.Set(conditions, ReadyCondition(PodConditionType.Ready, allReady, terminal, statuses), now);
        return new PodStatus
        {
            Phase = phase,
            Conditions = conditions,
            HostIP = _node.HostIP,
            PodIP = sandbox?.Ip,
            PodIPs = sandbox?.Ip is { } ip ? [new PodIP { Ip = ip }] : null,
            StartTime = _startTime,
            ContainerStatuses = statuses,
        };
    }

    private string RuntimeScheme => _node.Runtime.Version.Split(':')[0];

    private static Condition ReadyCondition(string type, bool ready, bool terminal, List<ContainerStatus> statuses)
    {
        if (ready)
        {
            return new Condition { Type = type, Status = ConditionStatus.True };
        }
        var notReady = statuses.Where(s => !s.Ready).Select(s => s.Name).ToList();
        return new Condition
        {
            Type = type,
            Status = ConditionStatus.False,
            Reason = terminal ? "PodCompleted" : "ContainersNotReady",
            Message = terminal ? null : $"containers with unready status: [{string.Join(" ", notReady)}]",
        };
    }

    private static ContainerStateTerminated Terminated(RuntimeContainer c) => new()
    {
        ExitCode = c.ExitCode ?? 0,
        Reason = c.Reason ?? (c.ExitCode == 0 ? "Completed" : "Error"),
        StartedAt = c.StartedAt,
        FinishedAt = c.FinishedAt,
        ContainerID = c.Id,
    };

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static string Format(TimeSpan t) => t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds}s" : $"{(int)t.TotalSeconds}s";

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Probes.Stop();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }

    private sealed record Backoff(DateTimeOffset LastStart, TimeSpan Delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Syncing pod {Pod} failed")]
    private static partial void LogSyncFailed(ILogger logger, Exception exception, string pod);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pod {Pod} is no longer bound to this node; leaving it to the next resync")]
    private static partial void LogNotOurs(ILogger logger, string pod);
}
