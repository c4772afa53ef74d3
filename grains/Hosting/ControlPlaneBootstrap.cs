using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Kinds;
using Orchestrator.Model;
using Polly;
using Polly.Retry;

namespace Orchestrator.Grains.Hosting;

/// <summary>
/// Runs once the silo is up: builds this silo's caches, creates the namespaces and default RBAC roles every cluster has, and wakes the
/// controllers, as Kubernetes' controller manager resyncs everything when it starts. Reminders
/// would wake them too, but only on their next tick (up to a ResyncPeriod later).
/// </summary>
public sealed partial class ControlPlaneBootstrap(IGrainFactory grains, Index.ResourceCaches caches, ILogger<ControlPlaneBootstrap> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Retry(logger).ExecuteAsync(async _ => await BootstrapAsync(), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Until it succeeds or the silo stops: 1 s after the first failure, then 2 s,
    /// 3 s ... at most 5 s apart (the store or the cluster may take a while to come up).</summary>
    private static ResiliencePipeline Retry(ILogger logger) => new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is not null && !args.Context.CancellationToken.IsCancellationRequested),
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Linear,
            Delay = TimeSpan.FromSeconds(1),
            MaxDelay = TimeSpan.FromSeconds(5),
            UseJitter = false,
            OnRetry = args =>
            {
                LogBootstrapFailed(logger, args.Outcome.Exception!, args.AttemptNumber + 1);
                return ValueTask.CompletedTask;
            },
        })
        .Build();

    private async Task BootstrapAsync()
    {
        await caches.LoadAllAsync();
        foreach (var name in new[] { WellKnown.DefaultNamespace, WellKnown.SystemNamespace, "kube-public" })
        {
            var grain = grains.GetGrain<INamespaceGrain>(name);
            if (await grain.GetAsync() is null)
            {
                try
                {
                    await grain.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = name } });
                }
                catch (ApiException ex) when (ex.Reason == StatusReason.AlreadyExists)
                {
                }
            }
        }
        await Security.BootstrapPolicy.EnsureAsync(grains);
        await grains.GetGrain<ISchedulerGrain>(SchedulerGrainKeys.Default).GetStatsAsync();
        foreach (var kind in KindRegistry.All)
        {
            await kind.Accept(new PokeAll(grains));
        }
        LogBootstrapped(logger);
    }

    private sealed class PokeAll(IGrainFactory grains) : IKindVisitor<Task>
    {
        public async Task Visit<T>(Kind<T> kind) where T : class, IResource<T>
        {
            if (kind.Reconciler is null)
            {
                return;
            }
            var list = await grains.GetGrain<IResourceIndexGrain<T>>(T.Type.Plural).ListAsync(ResourceQuery.All);
            foreach (var obj in list.Items)
            {
                await kind.Controller(grains, obj.Metadata.Namespace, obj.Metadata.Name!)!.PokeAsync();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Control plane bootstrap attempt {Attempt} failed; retrying")]
    private static partial void LogBootstrapFailed(ILogger logger, Exception exception, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Control plane ready: system namespaces exist and controllers are awake")]
    private static partial void LogBootstrapped(ILogger logger);
}
