using Orchestrator.Calls;
using Orchestrator.Model;

namespace Orchestrator.Grains.Hosting;

/// <summary>
/// Makes a failure that a grain method let escape from a call it made itself unmistakable for a
/// rejection of the call to this grain. The caller's <see cref="TransientCallRetryFilter"/> sees
/// only the exception, and a nested "target silo is dead" looks exactly like the outer call never
/// having been delivered; retrying would run this method twice (a create would answer 409
/// AlreadyExists after the first attempt had stored the object). Such failures leave here as a 503
/// ApiException that says the request may have been partly applied.
/// </summary>
/// <remarks>
/// Failures before the method runs (the activation could not be created) do not pass through
/// here and stay retryable, which is right: nothing of the call ran.
/// </remarks>
public sealed class ProcessedCallFailureFilter : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception ex) when (CallFailures.IsOrchestratorInterface(context.InterfaceMethod?.DeclaringType)
            && (CallFailures.WasNotProcessed(ex) || CallFailures.MayHaveBeenProcessed(ex)))
        {
            throw ApiErrors.Unavailable(
                $"{CallFailures.PartlyAppliedPrefix} ({ex.GetType().Name}: {ex.Message}); "
                + "it may have been partly applied, so read the object before retrying");
        }
    }
}
