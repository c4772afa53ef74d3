using System.Text.Json;
using System.Text.Json.Nodes;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.Tests.Infrastructure;

/// <summary>
/// Follows every pod of a namespace through the API's watch and keeps the latest state of each,
/// calling a check after every event, so a test can assert invariants at every step of a
/// rollout instead of only at the end.
/// </summary>
public sealed class PodObserver : IAsyncDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly Dictionary<string, Pod> _pods = [];
    private readonly List<string> _violations = [];
    private readonly Func<IReadOnlyCollection<Pod>, DateTimeOffset, string?> _check;
    private readonly Task _loop;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private PodObserver(ApiClient api, string ns, Func<IReadOnlyCollection<Pod>, DateTimeOffset, string?> check)
    {
        _check = check;
        _loop = Task.Run(() => RunAsync(api, ns));
    }

    /// <summary>Starts observing; returns once the watch is established.</summary>
    public static async Task<PodObserver> StartAsync(ApiClient api, string ns, Func<IReadOnlyCollection<Pod>, DateTimeOffset, string?> check)
    {
        var observer = new PodObserver(api, ns, check);
        await observer._started.Task.WaitAsync(Eventually.DefaultTimeout);
        return observer;
    }

    public int Events { get; private set; }

    public IReadOnlyList<string> Violations
    {
        get
        {
            lock (_violations)
            {
                return [.. _violations];
            }
        }
    }

    /// <summary>Every pod seen, by uid, including deleted ones (their last state).</summary>
    public IReadOnlyList<Pod> Seen
    {
        get
        {
            lock (_pods)
            {
                return [.. _seen.Values];
            }
        }
    }

    private readonly Dictionary<string, Pod> _seen = [];

    /// <summary>List, then watch from the list's resourceVersion; when the watch breaks (a silo
    /// died, the version is too old), list again and go on, as an informer does. Every list and
    /// every event is checked.</summary>
    private async Task RunAsync(ApiClient api, string ns)
    {
        while (!_cts.IsCancellationRequested)
        {
            try
            {
                var list = await api.GetAsync<JsonObject>($"/api/v1/namespaces/{ns}/pods");
                var rv = list["metadata"]!["resourceVersion"]!.GetValue<string>();
                lock (_pods)
                {
                    _pods.Clear();
                    foreach (var item in list["items"]!.AsArray())
                    {
                        var pod = item.Deserialize<Pod>(ResourceJson.Lenient)!;
                        _pods[pod.Metadata.Uid!] = pod;
                        _seen[pod.Metadata.Uid!] = pod;
                    }
                    Check();
                }
                using var response = await api.Http.GetAsync($"/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion={rv}", HttpCompletionOption.ResponseHeadersRead, _cts.Token);
                response.EnsureSuccessStatusCode();
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(_cts.Token));
                _started.TrySetResult();
                while (await reader.ReadLineAsync(_cts.Token) is { } line)
                {
                    var ev = JsonNode.Parse(line)!;
                    var type = ev["type"]!.GetValue<string>();
                    if (type == "ERROR")
                    {
                        break;
                    }
                    var pod = ev["object"].Deserialize<Pod>(ResourceJson.Lenient)!;
                    lock (_pods)
                    {
                        if (type == "DELETED")
                        {
                            _pods.Remove(pod.Metadata.Uid!);
                        }
                        else
                        {
                            _pods[pod.Metadata.Uid!] = pod;
                        }
                        _seen[pod.Metadata.Uid!] = pod;
                        Events++;
                        Check();
                    }
                }
            }
            catch (OperationCanceledException) when (_cts.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // The silo behind the watch went away or is settling: list again shortly.
                Restarts++;
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), _cts.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>How often the watch had to be started again.</summary>
    public int Restarts { get; private set; }

    private void Check()
    {
        if (_check(_pods.Values, DateTimeOffset.UtcNow) is { } violation)
        {
            lock (_violations)
            {
                _violations.Add(violation);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        await _loop;
        _cts.Dispose();
    }
}
