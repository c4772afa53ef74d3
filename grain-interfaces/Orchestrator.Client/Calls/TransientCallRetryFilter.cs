using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Orchestrator.Calls;

/// <summary>
/// Retries calls to the orchestrator's grains that failed without being processed
/// (<see cref="CallFailures.WasNotProcessed"/>), with capped exponential back-off, for up to
/// <see cref="CallRetryOptions.MaxElapsed"/>. While membership settles after a silo dies, Orleans
/// rejects calls to grains that lived there and does not retry them itself; this keeps those
/// rejections from reaching users and controllers. Silos (for the HTTP API and grain-to-grain
/// calls) and clients (node agents) register it.
/// </summary>
/// <remarks>
/// Only calls to the orchestrator's grain interfaces and to Orleans' reminder service (controllers
/// register reminders while handling calls) are retried, never Orleans' other system calls
/// (membership probes must fail fast). A grain that lets such a failure of its own calls escape
/// reaches its caller as a 503 ApiException instead (ProcessedCallFailureFilter), which is not
/// retried: the method ran. Back-off: 50 ms, 100, 200, 400, 800, then 1 s per attempt with the
/// defaults, each with up to 20% jitter so that callers rejected together do not return together.
/// A caller can stop the retries earlier for the calls it makes in a <see cref="CallDeadline"/> scope.
/// </remarks>
public sealed partial class TransientCallRetryFilter(IOptions<CallRetryOptions> options, ILogger<TransientCallRetryFilter> logger) : IOutgoingGrainCallFilter
{
    /// <summary>By name: this assembly does not reference Orleans.Reminders.</summary>
    private const string ReminderService = "Orleans.IReminderService";

    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        var outcome = await AttemptAsync(context);
        if (outcome.Failure is not { } failure
            || !CallFailures.WasNotProcessed(failure)
            || !IsRetried(context.Request.GetInterfaceType()))
        {
            outcome.Complete();
            return;
        }

        var o = options.Value;
        var started = Stopwatch.GetTimestamp();
        var delay = o.FirstDelay;
        for (var attempt = 2; ; attempt++)
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (elapsed + delay > o.MaxElapsed || CallDeadline.Remaining is { } left && delay > left)
            {
                LogGaveUp(logger, context.InterfaceName, context.MethodName, context.TargetId, attempt - 1, elapsed.TotalMilliseconds, failure.Message);
                outcome.Complete();
                return;
            }
            LogRetrying(logger, context.InterfaceName, context.MethodName, context.TargetId, attempt, failure.GetType().Name, failure.Message);
            await Task.Delay(delay * (1 + (0.2 * Random.Shared.NextDouble())));
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, o.MaxDelay.Ticks));

            // Invoke runs the rest of the filter chain and sends the request again; Orleans allows
            // calling it repeatedly from a filter.
            outcome = await AttemptAsync(context);
            if (outcome.Failure is null)
            {
                LogRecovered(logger, context.InterfaceName, context.MethodName, context.TargetId, attempt, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                return;
            }
            if (!CallFailures.WasNotProcessed(outcome.Failure))
            {
                outcome.Complete();
                return;
            }
            failure = outcome.Failure;
        }
    }

    private static bool IsRetried(Type interfaceType) =>
        CallFailures.IsOrchestratorInterface(interfaceType) || string.Equals(interfaceType.FullName, ReminderService, StringComparison.Ordinal);

    /// <summary>Runs the call once. Orleans reports most failures in the response, but some (a
    /// send that fails synchronously) are thrown; both come back as the attempt's failure.</summary>
    private static async Task<Attempt> AttemptAsync(IOutgoingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
            return new Attempt(context.Response?.Exception, Thrown: false);
        }
        catch (Exception ex)
        {
            return new Attempt(ex, Thrown: true);
        }
    }

    private readonly record struct Attempt(Exception? Failure, bool Thrown)
    {
        /// <summary>Hands the attempt's result to the caller: a failed response is already in the
        /// context; a thrown failure is thrown again with its original stack.</summary>
        public void Complete()
        {
            if (Thrown && Failure is not null)
            {
                ExceptionDispatchInfo.Throw(Failure);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Interface}.{Method} to {Target} failed without being processed ({Type}: {Reason}); attempt {Attempt} follows")]
    private static partial void LogRetrying(ILogger logger, string @interface, string method, GrainId target, int attempt, string type, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Interface}.{Method} to {Target} succeeded on attempt {Attempt} after {ElapsedMilliseconds} ms of retries")]
    private static partial void LogRecovered(ILogger logger, string @interface, string method, GrainId target, int attempt, double elapsedMilliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Interface}.{Method} to {Target} still failing after {Attempts} attempts in {ElapsedMilliseconds} ms: {Reason}")]
    private static partial void LogGaveUp(ILogger logger, string @interface, string method, GrainId target, int attempts, double elapsedMilliseconds, string reason);
}
