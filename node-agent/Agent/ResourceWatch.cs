using Microsoft.Extensions.Logging;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace Orchestrator.NodeAgent.Agent;

/// <summary>
/// A list-and-watch of one kind (Kubernetes' informer, without the cache): it hands every change
/// to <see cref="Changed"/>, and every full list (at start, after a "too old" watch, and every
/// resync interval) to <see cref="Listed"/>, so consumers are level-triggered. One pod watch can
/// serve many hollow nodes in one process; the service proxy watches services and endpoints.
/// </summary>
public sealed partial class ResourceWatch<T>(IGrainFactory grains, ResourceQuery query, TimeSpan resyncInterval, TimeProvider time, ILogger logger)
    where T : class, IResource<T>
{
    private static readonly TimeSpan PollWait = TimeSpan.FromSeconds(15);

    private readonly Lock _pollLock = new();
    private CancellationTokenSource? _poll;
    private bool _restart;

    public event Func<WatchEventType, T, Task>? Changed;

    public event Func<IReadOnlyList<T>, Task>? Listed;

    /// <summary>Abandons the call in flight and lists afresh. For when the caller has reason to
    /// think the call is stranded: Orleans 10.4.2 never answers a call whose silo died after a
    /// gateway passed it on (dotnet/orleans#10165), and a long poll would otherwise wait out the
    /// client's whole response timeout before the watch noticed.</summary>
    public void Restart()
    {
        lock (_pollLock)
        {
            _restart = true;
            _poll?.Cancel();
        }
    }

    public async Task RunAsync(CancellationToken token)
    {
        var index = grains.GetGrain<IResourceIndexGrain<T>>(T.Type.Plural);
        long from = -1;
        var nextList = DateTimeOffset.MinValue;
        while (!token.IsCancellationRequested)
        {
            using var poll = CancellationTokenSource.CreateLinkedTokenSource(token);
            lock (_pollLock)
            {
                _poll = poll;
                if (_restart)
                {
                    _restart = false;
                    from = -1;
                }
            }
            try
            {
                if (from < 0 || time.GetUtcNow() >= nextList)
                {
                    var list = await index.ListAsync(query).WaitAsync(poll.Token);
                    from = list.ResourceVersion;
                    nextList = time.GetUtcNow() + resyncInterval;
                    if (Listed is { } listed)
                    {
                        await listed(list.Items);
                    }
                }
                var wait = nextList - time.GetUtcNow();
                var batch = await index.WatchAsync(query, from, wait < PollWait ? (wait > TimeSpan.Zero ? wait : TimeSpan.Zero) : PollWait).WaitAsync(poll.Token);
                if (batch.TooOld)
                {
                    from = -1;
                    continue;
                }
                foreach (var ev in batch.Events)
                {
                    if (Changed is { } changed)
                    {
                        await changed(ev.Type, ev.Object);
                    }
                }
                from = batch.ResourceVersion;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (OperationCanceledException) when (poll.IsCancellationRequested)
            {
                // Restart(): list again at once.
                from = -1;
            }
            catch (Exception ex)
            {
                // The control plane is unreachable or restarting: keep what runs, retry, and list
                // afresh (the index may have restarted and forgotten our place).
                LogWatchFailed(logger, ex, T.Type.Plural);
                from = -1;
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), time, poll.Token);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return;
                }
                catch (OperationCanceledException)
                {
                }
            }
            finally
            {
                lock (_pollLock)
                {
                    _poll = null;
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Watching {Kind} failed; retrying")]
    private static partial void LogWatchFailed(ILogger logger, Exception exception, string kind);
}
