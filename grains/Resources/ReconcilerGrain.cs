using System.Diagnostics;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orleans.Runtime;

namespace Orchestrator.Grains.Resources;

/// <summary>What a reconcile pass asks for next.</summary>
public readonly record struct ReconcileResult(TimeSpan? RequeueAfter)
{
    public static ReconcileResult Done => new(null);

    public static ReconcileResult After(TimeSpan delay) => new(delay);
}

/// <summary>
/// A resource grain that is also its object's controller. <see cref="ReconcileAsync"/> runs
/// (1) shortly after every change to the object or a poke from something it owns or watches,
/// (2) on a grain timer with capped exponential back-off while it fails or asks to be requeued,
/// and (3) on a durable reminder, the safety net that re-activates it on a surviving silo
/// after a crash. The reminder exists exactly while the object does.
/// </summary>
public abstract class ReconcilerGrain<T> : ResourceGrain<T>, IReconciler, IRemindable where T : class, IResource<T>
{
    private const string ReminderName = "reconcile";

    /// <summary>Pokes arriving within this window coalesce into one pass: a ReplicaSet whose
    /// 100 pods all change at once reconciles a few times, not a hundred.</summary>
    private static readonly TimeSpan PokeDelay = TimeSpan.FromMilliseconds(10);

    private IGrainTimer? _timer;

    /// <summary>When the pending pass is due (a <see cref="Stopwatch"/> timestamp), on the clock
    /// of the grain timer that runs it. Not <see cref="ResourceGrain{T}.Now"/>: controllers decide
    /// on the injected TimeProvider (a fake one in tests, which moves only when a test moves it),
    /// while the timer waits in real time; a poke after the fake clock jumped must still come
    /// sooner than a pass the timer holds for later.</summary>
    private long? _dueAt;
    private int _failures;

    /// <summary>Set until this activation knows the reminder exists. Registering it is a call to
    /// the reminder service, which lives on whichever silo owns the grain's ring range; when that
    /// silo has just died the call fails, and it is retried with the reconcile passes instead of
    /// failing a write that is already stored (or an activation, which would block every read).</summary>
    private bool _reminderUnconfirmed;

    protected ReconcilerGrain(GrainServices services) : base(services)
    {
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await base.OnActivateAsync(cancellationToken);
        if (Current is not null)
        {
            // Level-triggered: whatever happened while no activation existed, look now.
            _reminderUnconfirmed = true;
            Requeue(TimeSpan.Zero);
        }
    }

    public Task PokeAsync()
    {
        if (Current is not null)
        {
            Requeue(PokeDelay);
        }
        return Task.CompletedTask;
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (Current is null)
        {
            return UnregisterReminderAsync();
        }
        Requeue(TimeSpan.Zero);
        return Task.CompletedTask;
    }

    /// <summary>One pass toward the desired state. Idempotent; re-reads what it needs.</summary>
    protected abstract Task<ReconcileResult> ReconcileAsync(T current);

    protected override Task OnWrittenAsync(T? old, T now)
    {
        if (old is null)
        {
            _reminderUnconfirmed = true;
        }
        // Before poking the owner, a grain call that fails while a silo's death settles: the
        // object is stored by now and the caller's retry only finds it there (409), so a pass
        // scheduled after a failed poke would be lost, and with it the reminder it registers.
        Requeue(TimeSpan.Zero);
        return base.OnWrittenAsync(old, now);
    }

    protected override async Task OnRemovedAsync(T last)
    {
        await base.OnRemovedAsync(last);
        _timer?.Dispose();
        _timer = null;
        _dueAt = null;
        _reminderUnconfirmed = false;
        await UnregisterReminderAsync();
    }

    protected override bool SupportsForegroundDeletion => true;

    /// <summary>Schedules a pass after <paramref name="delay"/> unless one is due sooner.</summary>
    protected void Requeue(TimeSpan delay)
    {
        var due = Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency);
        if (_dueAt is { } existing && existing <= due)
        {
            return;
        }
        _dueAt = due;
        if (_timer is null)
        {
            _timer = this.RegisterGrainTimer(RunAsync, new GrainTimerCreationOptions(delay, Timeout.InfiniteTimeSpan) { Interleave = false, KeepAlive = true });
        }
        else
        {
            _timer.Change(delay, Timeout.InfiniteTimeSpan);
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        _dueAt = null;
        var current = Current;
        if (current is null)
        {
            return;
        }
        try
        {
            var result = await ReconcileForegroundDeletionAsync(current) ?? await ReconcileAsync(current);
            _failures = 0;
            if (result.RequeueAfter is { } after)
            {
                Requeue(after);
            }
        }
        catch (Exception ex)
        {
            // Back-off: RetryBaseDelay (100 ms) doubling per consecutive failure (100 ms, 200 ms,
            // 400 ms ... ) up to RetryMaxDelay (30 s, reached after nine failures); the reminder
            // keeps trying even if this activation goes away.
            _failures++;
            var delay = TimeSpan.FromTicks(Math.Min(Options.RetryMaxDelay.Ticks, Options.RetryBaseDelay.Ticks << Math.Min(_failures - 1, 20)));
            Logger.ReconcileFailed(ex, T.Type.Kind, Key, _failures, delay);
            Requeue(delay);
        }
        // After the pass, not before it: the reminder service lives on one silo of the ring, and
        // a call to it that was under way when that silo died is not failed by Orleans until its
        // response timeout (30 s). A pass waiting behind it held up the object's work that long
        // (a CI run lost a ReplicaSet's pods after a kill to it). The wait is bounded; an
        // unconfirmed reminder is tried again on a later pass.
        if (_reminderUnconfirmed && Current is not null)
        {
            try
            {
                await EnsureReminderAsync().WaitAsync(ReminderConfirmTimeout, cancellationToken);
                _reminderUnconfirmed = false;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Logger.ReminderUnconfirmed(ex, T.Type.Kind, Key, ReminderConfirmRetry);
                Requeue(ReminderConfirmRetry);
            }
        }
    }

    /// <summary>How long a pass waits for the reminder service to confirm the resync reminder.</summary>
    private static readonly TimeSpan ReminderConfirmTimeout = TimeSpan.FromSeconds(5);

    /// <summary>When a pass tries again after the reminder could not be confirmed.</summary>
    private static readonly TimeSpan ReminderConfirmRetry = TimeSpan.FromSeconds(1);

    /// <summary>An owner deleted with propagationPolicy=Foreground waits here until its
    /// dependents are gone, then drops its finalizer (which removes it).</summary>
    private async Task<ReconcileResult?> ReconcileForegroundDeletionAsync(T current)
    {
        if (!current.Metadata.IsDeleting || current.Metadata.Finalizers?.Contains(Finalizers.ForegroundDeletion) != true)
        {
            return null;
        }
        await Services.GarbageCollector.DeleteDependentsAsync(current, PropagationPolicy.Foreground);
        if (await Services.GarbageCollector.CountDependentsAsync(current) > 0)
        {
            return ReconcileResult.After(TimeSpan.FromSeconds(1));
        }
        var finalizers = current.Metadata.Finalizers.Where(f => f != Finalizers.ForegroundDeletion).ToList();
        var updated = current.WithMetadata(current.Metadata with { Finalizers = finalizers.Count > 0 ? finalizers : null });
        if (finalizers.Count == 0)
        {
            await RemoveAsync(updated);
        }
        else
        {
            await WriteObjectAsync(updated);
        }
        return ReconcileResult.Done;
    }

    private async Task EnsureReminderAsync()
    {
        if (await this.GetReminder(ReminderName) is null)
        {
            await this.RegisterOrUpdateReminder(ReminderName, Options.ResyncPeriod, Options.ResyncPeriod);
        }
    }

    private async Task UnregisterReminderAsync()
    {
        if (await this.GetReminder(ReminderName) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }
}
