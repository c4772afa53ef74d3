using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Runtime;

namespace Orchestrator.NodeAgent.Agent;

/// <summary>
/// Liveness, readiness and startup probes of one pod's containers (Kubernetes' prober). Each
/// running container with probes gets a loop per probe that honours initialDelaySeconds,
/// periodSeconds, timeoutSeconds and the success and failure thresholds. Until a startup probe
/// succeeds the other two do not run; a liveness failure stops the container, and the pod worker
/// restarts it per restartPolicy; readiness decides the container's (and so the pod's) Ready.
/// </summary>
internal sealed partial class ProbeManager(NodeContext node, PodWorker worker)
{
    private NodeContext Node => node;

    private PodWorker Worker => worker;

    private readonly ConcurrentDictionary<string, ContainerProbes> _byContainerId = new();

    /// <summary>Starts probing new running containers and stops probing gone ones.</summary>
    public void Sync(Pod pod, IReadOnlyList<RuntimeContainer> containers)
    {
        var running = containers.Where(c => c.State == ContainerRunState.Running).ToDictionary(c => c.Id);
        foreach (var (id, probes) in _byContainerId)
        {
            if (!running.ContainsKey(id))
            {
                probes.Cancel();
                _byContainerId.TryRemove(id, out _);
            }
        }
        foreach (var (id, rc) in running)
        {
            if (_byContainerId.ContainsKey(id))
            {
                continue;
            }
            var spec = pod.Spec.Containers.FirstOrDefault(c => c.Name == rc.Name);
            if (spec is null)
            {
                continue;
            }
            var probes = new ContainerProbes(rc, spec);
            _byContainerId[id] = probes;
            probes.Start(this, pod);
        }
    }

    public bool Started(string containerName) => Find(containerName) is not { } p || p.Started;

    public bool Ready(string containerName) => Find(containerName) is not { } p || (p.Started && p.Ready);

    public TimeSpan NextDue(DateTimeOffset now) => TimeSpan.FromSeconds(30);

    public void Stop()
    {
        foreach (var p in _byContainerId.Values)
        {
            p.Cancel();
        }
        _byContainerId.Clear();
    }

    private ContainerProbes? Find(string containerName) =>
        _byContainerId.Values.Where(p => p.Container.Name == containerName).MaxBy(p => p.Container.Attempt);

    private async Task<bool> ProbeOnceAsync(Pod pod, RuntimeContainer container, Container spec, Probe probe, CancellationToken token)
    {
        var timeout = TimeSpan.FromSeconds(probe.TimeoutSeconds ?? 1);
        try
        {
            if (probe.Exec is { } exec)
            {
                var result = await node.Runtime.ExecAsync(container.Id, exec.Command ?? [], timeout, token);
                return result.ExitCode == 0;
            }
            if (!node.Runtime.ProbesReachContainers)
            {
                // Nothing listens in a fake container: network probes count as passing.
                return true;
            }
            var host = (probe.HttpGet?.Host ?? probe.TcpSocket?.Host) is { Length: > 0 } h ? h : worker.Pod.Status?.PodIP;
            if (host is null)
            {
                return false;
            }
            if (probe.HttpGet is { } http)
            {
                var port = ResolvePort(http.Port, spec);
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(token);
                cts.CancelAfter(timeout);
                var scheme = (http.Scheme ?? "HTTP").ToLowerInvariant();
                using var request = new HttpRequestMessage(HttpMethod.Get, $"{scheme}://{host}:{port}{http.Path ?? "/"}");
                foreach (var header in http.HttpHeaders ?? [])
                {
                    request.Headers.TryAddWithoutValidation(header.Name, header.Value);
                }
                request.Headers.UserAgent.ParseAdd("kube-probe/1.32");
                using var response = await node.ProbeClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
                // Kubernetes: any status from 200 to 399 is a success.
                return (int)response.StatusCode is >= 200 and < 400;
            }
            if (probe.TcpSocket is { } tcp)
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(token);
                cts.CancelAfter(timeout);
                using var client = new TcpClient();
                await client.ConnectAsync(host, ResolvePort(tcp.Port, spec), cts.Token);
                return true;
            }
            return false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
        {
            return false;
        }
    }

    private static int ResolvePort(IntOrString port, Container spec) => port.IsInt
        ? port.IntValue ?? 0
        : spec.Ports?.FirstOrDefault(p => p.Name == port.StringValue)?.Port ?? 0;

    private sealed class ContainerProbes(RuntimeContainer container, Container spec)
    {
        private readonly CancellationTokenSource _cts = new();

        public RuntimeContainer Container { get; } = container;

        public bool Started { get; private set; } = spec.StartupProbe is null;

        /// <summary>Without a readiness probe a started container is ready.</summary>
        public bool Ready { get; private set; } = spec.ReadinessProbe is null;

        public void Cancel() => _cts.Cancel();

        public void Start(ProbeManager manager, Pod pod)
        {
            var token = _cts.Token;
            if (spec.StartupProbe is { } startup)
            {
                _ = Task.Run(() => LoopAsync(manager, pod, startup, ProbeKind.Startup, token), token);
            }
            if (spec.LivenessProbe is { } liveness)
            {
                _ = Task.Run(() => LoopAsync(manager, pod, liveness, ProbeKind.Liveness, token), token);
            }
            if (spec.ReadinessProbe is { } readiness)
            {
                _ = Task.Run(() => LoopAsync(manager, pod, readiness, ProbeKind.Readiness, token), token);
            }
        }

        private async Task LoopAsync(ProbeManager manager, Pod pod, Probe probe, ProbeKind kind, CancellationToken token)
        {
            var time = manager.Node.Time;
            try
            {
                var started = Container.StartedAt ?? time.GetUtcNow();
                var firstAt = started.AddSeconds(probe.InitialDelaySeconds ?? 0);
                var delay = firstAt - time.GetUtcNow();
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, time, token);
                }
                int successes = 0, failures = 0;
                var period = TimeSpan.FromSeconds(probe.PeriodSeconds ?? 10);
                while (!token.IsCancellationRequested)
                {
                    if (kind == ProbeKind.Startup && Started)
                    {
                        return;
                    }
                    if (kind != ProbeKind.Startup && !Started)
                    {
                        // Liveness and readiness wait for the startup probe to pass.
                        await Task.Delay(TimeSpan.FromMilliseconds(200), time, token);
                        continue;
                    }
                    var ok = await manager.ProbeOnceAsync(pod, Container, spec, probe, token);
                    if (ok)
                    {
                        successes++;
                        failures = 0;
                    }
                    else
                    {
                        failures++;
                        successes = 0;
                    }
                    await ApplyAsync(manager, kind, probe, ok, successes, failures, token);
                    await Task.Delay(period, time, token);
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception ex)
            {
                LogProbeLoopFailed(manager.Node.Logger, ex, kind.ToString(), Container.Name);
            }
        }

        private async Task ApplyAsync(ProbeManager manager, ProbeKind kind, Probe probe, bool ok, int successes, int failures, CancellationToken token)
        {
            var successThreshold = probe.SuccessThreshold ?? 1;
            var failureThreshold = probe.FailureThreshold ?? 3;
            switch (kind)
            {
                case ProbeKind.Startup:
                    if (ok && successes >= successThreshold)
                    {
                        Started = true;
                        manager.Worker.Kick();
                    }
                    else if (failures >= failureThreshold)
                    {
                        await KillAsync(manager, "Startup");
                    }
                    break;
                case ProbeKind.Readiness:
                    var ready = Ready;
                    if (ok && successes >= successThreshold)
                    {
                        ready = true;
                    }
                    else if (!ok && failures >= failureThreshold)
                    {
                        ready = false;
                    }
                    if (ready != Ready)
                    {
                        Ready = ready;
                        manager.Worker.Kick();
                    }
                    break;
                case ProbeKind.Liveness:
                    if (failures >= failureThreshold)
                    {
                        await KillAsync(manager, "Liveness");
                    }
                    break;
            }
        }

        private async Task KillAsync(ProbeManager manager, string probe)
        {
            LogProbeKill(manager.Node.Logger, probe, Container.Name, manager.Worker.Pod.Key());
            Cancel();
            var grace = TimeSpan.FromSeconds(manager.Worker.Pod.Spec.TerminationGracePeriodSeconds ?? Defaults.TerminationGracePeriodSeconds);
            await manager.Node.Runtime.StopContainerAsync(Container.Id, grace, CancellationToken.None);
            manager.Worker.Kick();
        }
    }

    private enum ProbeKind
    {
        Startup,
        Liveness,
        Readiness,
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Probe} probe of container {Container} in pod {Pod} failed past its threshold; killing the container")]
    private static partial void LogProbeKill(ILogger logger, string probe, string container, string pod);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Kind} probe loop of container {Container} failed")]
    private static partial void LogProbeLoopFailed(ILogger logger, Exception exception, string kind, string container);
}
