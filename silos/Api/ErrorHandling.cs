using System.Data.Common;
using Orchestrator.Calls;
using Orchestrator.Model;
using Orleans.Runtime;
using Polly;
using Polly.Retry;

namespace Orchestrator.Silo.Api;

/// <summary>
/// Turns every failure into a Kubernetes Status response, so that no request can crash the silo
/// or end without a body that says what went wrong.
/// </summary>
public static partial class ErrorHandling
{
    public static IApplicationBuilder UseKubernetesErrors(this IApplicationBuilder app)
    {
        app.Use(async (context, next) =>
        {
            var resilience = ResilienceContextPool.Shared.Get(context.RequestAborted);
            resilience.Properties.Set(HttpContextKey, context);
            try
            {
                await ReadRetry.ExecuteAsync(static async (_, state) => await state.next(state.context), resilience, (next, context));
            }
            catch (Exception ex) when (context.RequestAborted.IsCancellationRequested && ex is OperationCanceledException)
            {
                // The client went away; nothing to tell it.
            }
            catch (Exception ex)
            {
                await WriteFailureAsync(context, ex);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(resilience);
            }
        });
        // Routing's own 404 and 405 answers get a Status body too.
        app.UseStatusCodePages(async ctx =>
        {
            var http = ctx.HttpContext;
            if (http.Response.HasStarted || http.Response.ContentLength > 0)
            {
                return;
            }
            var code = http.Response.StatusCode;
            var status = code switch
            {
                404 => new ApiStatus { Code = 404, Reason = StatusReason.NotFound, Message = "the server could not find the requested resource" },
                405 => new ApiStatus { Code = 405, Reason = StatusReason.MethodNotAllowed, Message = $"the server does not allow this method on the requested resource ({http.Request.Method})" },
                _ => new ApiStatus { Code = code, Reason = StatusReason.BadRequest, Message = $"request failed with HTTP {code}" },
            };
            await StatusBody.WriteAsync(http, status);
        });
        return app;
    }

    // Before ReadRetry, which reads it: static fields are initialized in the order they appear.
    private static readonly TimeSpan[] ReadRetryDelays = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(1000)];

    private static readonly ResiliencePropertyKey<HttpContext> HttpContextKey = new("orchestrator.http-context");

    /// <summary>
    /// A read that failed because the silo that held what it asked for was lost while answering
    /// runs again (the grain call filter does not repeat calls that may have run; a read can run
    /// twice). Three repeats, after 100 ms, 300 ms and 1 s: about 1.5 s in all, which covers
    /// failure detection (about 1 s in the cluster profile).
    /// </summary>
    private static readonly ResiliencePipeline ReadRetry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex
                && !(ex is OperationCanceledException && args.Context.CancellationToken.IsCancellationRequested)
                && IsRepeatableRead(args.Context.Properties.GetValue(HttpContextKey, null!), ex)),
            MaxRetryAttempts = ReadRetryDelays.Length,
            DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(ReadRetryDelays[args.AttemptNumber]),
        })
        .Build();

    private static bool IsRepeatableRead(HttpContext context, Exception ex) =>
        (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
        && !context.Response.HasStarted
        && CallFailures.IsSiloLoss(ex);

    private static async Task WriteFailureAsync(HttpContext context, Exception ex)
    {
        var status = ToStatus(ex);
        if (status.Code >= 500)
        {
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Orchestrator.Api");
            LogRequestFailed(logger, ex, context.Request.Method, context.Request.Path);
        }
        if (!context.Response.HasStarted)
        {
            await StatusBody.WriteAsync(context, status);
        }
    }

    public static ApiStatus ToStatus(Exception ex) => ex switch
    {
        ApiException api => api.Status,
        BadHttpRequestException bad => new ApiStatus
        {
            Code = bad.StatusCode,
            Reason = bad.StatusCode == 413 ? StatusReason.RequestEntityTooLarge : StatusReason.BadRequest,
            Message = bad.Message,
        },
        // A grain call lost in transit: the same Status the .NET client throws.
        _ when ex is not TimeoutException && CallFailures.StatusOf(ex) is { } lost => lost,
        _ when FindStoreFailure(ex) is { } store => ApiErrors.Unavailable(
            $"the object store is unavailable; retry shortly ({store.Message})").Status,
        TimeoutException => CallFailures.StatusOf(ex)!,
        OperationCanceledException => new ApiStatus { Code = 504, Reason = StatusReason.Timeout, Message = "the request was cancelled before it finished" },
        _ => ApiErrors.Internal($"Internal error occurred: {ex.GetType().Name}: {ex.Message}").Status,
    };

    /// <summary>
    /// The passing store failure behind <paramref name="ex"/> (PostgreSQL down, restarting or out
    /// of connections), if any: grain activations that cannot read their state surface as an
    /// OrleansException wrapping the storage's <see cref="StoreException"/>.
    /// </summary>
    private static Exception? FindStoreFailure(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is StoreException { IsTransient: true } or DbException { IsTransient: true })
            {
                return e;
            }
            if (e is AggregateException aggregate && aggregate.InnerExceptions.Select(FindStoreFailure).FirstOrDefault(f => f is not null) is { } found)
            {
                return found;
            }
        }
        return null;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    private static partial void LogRequestFailed(ILogger logger, Exception exception, string method, string path);
}
