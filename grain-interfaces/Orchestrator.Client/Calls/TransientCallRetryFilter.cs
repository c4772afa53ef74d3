using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

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
/// The loop is a Polly retry pipeline; what is ours is when to stop and what counts as retryable.
/// </remarks>
public sealed partial class TransientCallRetryFilter : IOutgoingGrainCallFilter
{
    /// <summary>By name: this assembly does not reference Orleans.Reminders.</summary>
    private const string ReminderService = "Orleans.IReminderService";

    /// <summary>When the call first failed (a <see cref="Stopwatch"/> timestamp).</summary>
    private static readonly ResiliencePropertyKey<long> FirstFailure = new("orchestrator.call.first-failure");

    /// <summary>The call being retried, for the pipeline's log lines.</summary>
    private static readonly ResiliencePropertyKey<IOutgoingGrainCallContext> Call = new("orchestrator.call");

    private readonly CallRetryOptions _options;
    private readonly ILogger<TransientCallRetryFilter> _logger;
    private readonly ResiliencePipeline<Attempt> _pipeline;

    public TransientCallRetryFilter(IOptions<CallRetryOptions> options, ILogger<TransientCallRetryFilter> logger)
    {
        _options = options.Value;
        _logger = logger;
        _pipeline = new ResiliencePipelineBuilder<Attempt>()
            .AddRetry(new RetryStrategyOptions<Attempt>
            {
                // The end is MaxElapsed or the caller's deadline, decided in ShouldHandle.
                MaxRetryAttempts = int.MaxValue,
                ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome.Result, args.AttemptNumber, args.Context)),
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(Delay(args.AttemptNumber) * (1 + (0.2 * Random.Shared.NextDouble()))),
                OnRetry = args =>
                {
                    var call = args.Context.Properties.GetValue(Call, null!);
                    var failure = args.Outcome.Result.Failure!;
                    LogRetrying(_logger, call.InterfaceName, call.MethodName, call.TargetId, args.AttemptNumber + 2, failure.GetType().Name, failure.Message);
                    return default;
                },
            })
            .Build();
    }

    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (!IsRetried(context.Request.GetInterfaceType()))
        {
            await context.Invoke();
            return;
        }
        var resilience = ResilienceContextPool.Shared.Get();
        try
        {
            resilience.Properties.Set(Call, context);
            // Each attempt runs the rest of the filter chain and sends the request again; Orleans
            // allows calling Invoke repeatedly from a filter.
            var outcome = await _pipeline.ExecuteAsync(static (_, call) => AttemptAsync(call), resilience, context);
            if (outcome.Failure is null && resilience.Properties.TryGetValue(FirstFailure, out var first))
            {
                LogRecovered(_logger, context.InterfaceName, context.MethodName, context.TargetId, Stopwatch.GetElapsedTime(first).TotalMilliseconds);
            }
            outcome.Complete();
        }
        finally
        {
            ResilienceContextPool.Shared.Return(resilience);
        }
    }

    /// <summary>Whether a failed attempt is tried again: only a call that was not processed, and
    /// only while the wait before the next attempt still fits in MaxElapsed (counted from the
    /// first failure) and in the caller's <see cref="CallDeadline"/>.</summary>
    private bool ShouldRetry(Attempt attempt, int attemptNumber, ResilienceContext context)
    {
        if (attempt.Failure is not { } failure || !CallFailures.WasNotProcessed(failure))
        {
            return false;
        }
        if (attemptNumber == 0)
        {
            context.Properties.Set(FirstFailure, Stopwatch.GetTimestamp());
        }
        var elapsed = Stopwatch.GetElapsedTime(context.Properties.GetValue(FirstFailure, Stopwatch.GetTimestamp()));
        var delay = Delay(attemptNumber);
        if (elapsed + delay > _options.MaxElapsed || CallDeadline.Remaining is { } left && delay > left)
        {
            var call = context.Properties.GetValue(Call, null!);
            LogGaveUp(_logger, call.InterfaceName, call.MethodName, call.TargetId, attemptNumber + 1, elapsed.TotalMilliseconds, failure.Message);
            return false;
        }
        return true;
    }

    /// <summary>The wait after the failure of attempt <paramref name="attemptNumber"/> (from 0),
    /// before jitter: FirstDelay, doubling up to MaxDelay.</summary>
    private TimeSpan Delay(int attemptNumber) =>
        TimeSpan.FromTicks((long)Math.Min(_options.FirstDelay.Ticks * Math.Pow(2, Math.Min(attemptNumber, 30)), _options.MaxDelay.Ticks));

    private static bool IsRetried(Type interfaceType) =>
        CallFailures.IsOrchestratorInterface(interfaceType) || string.Equals(interfaceType.FullName, ReminderService, StringComparison.Ordinal);

    /// <summary>Runs the call once. Orleans reports most failures in the response, but some (a
    /// send that fails synchronously) are thrown; both come back as the attempt's failure.</summary>
    private static async ValueTask<Attempt> AttemptAsync(IOutgoingGrainCallContext context)
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

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Interface}.{Method} to {Target} succeeded after {ElapsedMilliseconds} ms of retries")]
    private static partial void LogRecovered(ILogger logger, string @interface, string method, GrainId target, double elapsedMilliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Interface}.{Method} to {Target} still failing after {Attempts} attempts in {ElapsedMilliseconds} ms: {Reason}")]
    private static partial void LogGaveUp(ILogger logger, string @interface, string method, GrainId target, int attempts, double elapsedMilliseconds, string reason);
}
