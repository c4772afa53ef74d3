using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using Orchestrator.Model;

namespace Orchestrator.Calls;

/// <summary>Tells grain call failures that are safe to retry from those that are not.</summary>
public static class CallFailures
{
    /// <summary>
    /// True when <paramref name="exception"/> means the call never reached a grain, so running it
    /// again cannot apply it twice: Orleans rejected or could not send the message because the
    /// target silo is dead, unknown, unreachable or overloaded, or there is no silo or gateway to
    /// send it to.
    /// </summary>
    /// <remarks>
    /// Deliberately not retried: a <see cref="SiloUnavailableException"/> that Orleans raises when a
    /// silo dies while holding a request it already received ("The target silo became unavailable
    /// for message ..."), or when the local host is shutting down; and timeouts. Those calls may have
    /// run. Orleans gives them no distinct type, only distinct messages, so a
    /// <see cref="SiloUnavailableException"/> counts as unprocessed only with a message known to
    /// come from a path that never delivered the request: anything unrecognized is left alone.
    /// </remarks>
    public static bool WasNotProcessed(Exception exception) => exception switch
    {
        SiloUnavailableException unavailable => IsUndeliveredSiloUnavailable(unavailable.Message),
        // Rejections: the target silo (or ours) refused the message before any grain ran it.
        OrleansMessageRejectionException => true,
        GatewayTooBusyException => true,
        // Could not connect to the silo or gateway, so nothing was sent.
        ConnectionFailedException => true,
        _ => false,
    };

    /// <summary>
    /// True for the orchestrator's own grain interfaces, which the call filters apply to: they live
    /// in several assemblies (the public ones in Orchestrator.GrainInterfaces, the node agents' in
    /// Orchestrator.NodeProtocol, the control plane's own in Orchestrator.Grains), all named
    /// "Orchestrator.*"; Orleans' system interfaces are not.
    /// </summary>
    public static bool IsOrchestratorInterface(Type? interfaceType) =>
        interfaceType?.Assembly.GetName().Name?.StartsWith("Orchestrator.", StringComparison.Ordinal) == true;

    /// <summary>
    /// The Status the HTTP API answers, and the client throws as an <see cref="ApiException"/>, for
    /// a grain call that failed in transit rather than with an ApiException of its own; null for
    /// other failures. The call retry filter already retried what was never processed, so what
    /// reaches here either outlasted that or may have been applied (the silo died holding it).
    /// </summary>
    public static ApiStatus? StatusOf(Exception exception) => exception switch
    {
        ApiException => null,
        _ when MayHaveBeenProcessed(exception) => ApiErrors.Unavailable(
            "the control plane lost the silo that was handling this request before it answered; the change may or may not have been applied, "
            + "so read the object before retrying").Status,
        _ when WasNotProcessed(exception) => ApiErrors.Unavailable(
            $"the control plane is settling after a change of silos; retry shortly ({exception.GetType().Name})").Status,
        TimeoutException => new ApiStatus { Code = 504, Reason = StatusReason.Timeout, Message = $"the request timed out: {exception.Message}" },
        _ => null,
    };

    /// <summary>How the 503 of a grain method whose own calls met a lost silo begins (see
    /// ProcessedCallFailureFilter in the grains).</summary>
    public const string PartlyAppliedPrefix = "part of the control plane was unavailable while handling this request";

    /// <summary>
    /// True when the call failed because a silo was lost or the cluster was settling, whether or
    /// not the call ran: what a read can safely try again.
    /// </summary>
    public static bool IsSiloLoss(Exception exception) =>
        WasNotProcessed(exception)
        || MayHaveBeenProcessed(exception)
        || exception is ApiException { Code: 503 } api && api.Message.StartsWith(PartlyAppliedPrefix, StringComparison.Ordinal);

    /// <summary>
    /// True when the failure may or may not have been applied: the silo that had the request died
    /// before answering. Callers should re-read before repeating a write.
    /// </summary>
    public static bool MayHaveBeenProcessed(Exception exception) =>
        exception is SiloUnavailableException && !WasNotProcessed(exception);

    private static bool IsUndeliveredSiloUnavailable(string message) =>
        // Rejections carry a SiloUnavailableException made with the parameterless constructor:
        // "Target silo is known to be dead" and "Silo ... is rejecting message".
        message == new SiloUnavailableException().Message
        // A client found no gateway to send through.
        || message.StartsWith("Could not find any gateway", StringComparison.Ordinal)
        // Placement found no silo for a new activation (the cluster is down to none).
        || message.StartsWith("Unable to select a candidate", StringComparison.Ordinal)
        || message.StartsWith("Cannot place grain", StringComparison.Ordinal);
}
