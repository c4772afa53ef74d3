using Orchestrator.Model;
using Orchestrator.Selectors;

namespace Orchestrator.Validation;

/// <summary>Validation of a Deployment.</summary>
public static partial class Validator
{
    public static void Deployment(Deployment d, Deployment? old, FieldErrors e)
    {
        Replicas(d.Spec.Replicas, "spec.replicas", e);
        NonNegative(d.Spec.MinReadySeconds, "spec.minReadySeconds", e);
        NonNegative(d.Spec.RevisionHistoryLimit, "spec.revisionHistoryLimit", e);
        SelectorAndTemplate(d.Spec.Selector, d.Spec.Template, old?.Spec.Selector, old is not null, e);
        if (d.Spec.ProgressDeadlineSeconds is { } deadline)
        {
            NonNegative(deadline, "spec.progressDeadlineSeconds", e);
            if (deadline <= (d.Spec.MinReadySeconds ?? 0))
            {
                e.Invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds");
            }
        }
        if (d.Spec.Strategy is { } strategy)
        {
            switch (strategy.Type)
            {
                case DeploymentStrategyType.Recreate:
                    if (strategy.RollingUpdate is not null)
                    {
                        e.Forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'");
                    }
                    break;
                case null or DeploymentStrategyType.RollingUpdate:
                    if (strategy.RollingUpdate is { } ru)
                    {
                        var surge = IntOrPercent(ru.MaxSurge, "spec.strategy.rollingUpdate.maxSurge", e);
                        var unavailable = IntOrPercent(ru.MaxUnavailable, "spec.strategy.rollingUpdate.maxUnavailable", e);
                        if (ru.MaxUnavailable is { IsInt: false } mu && mu.Scaled(100, roundUp: false) > 100)
                        {
                            e.Invalid("spec.strategy.rollingUpdate.maxUnavailable", mu.StringValue, "must not be greater than 100%");
                        }
                        if (surge == 0 && unavailable == 0)
                        {
                            e.Invalid("spec.strategy.rollingUpdate.maxUnavailable", ru.MaxUnavailable?.ToString(), "may not be 0 when `maxSurge` is 0");
                        }
                    }
                    break;
                default:
                    e.NotSupported("spec.strategy.type", strategy.Type, [DeploymentStrategyType.Recreate, DeploymentStrategyType.RollingUpdate]);
                    break;
            }
        }
    }

    /// <summary>Returns the count or percentage number, or null when absent or malformed.</summary>
    private static int? IntOrPercent(IntOrString? value, string path, FieldErrors e)
    {
        if (value is not { } v)
        {
            return null;
        }
        if (v.IsInt)
        {
            NonNegative(v.IntValue, path, e);
            return v.IntValue;
        }
        var scaled = v.Scaled(100, roundUp: false);
        if (scaled is null)
        {
            e.Invalid(path, v.StringValue, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')");
        }
        return scaled;
    }
}
