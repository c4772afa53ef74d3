using Orchestrator.Calls;
using Orchestrator.Model;
using Orleans.Runtime;

namespace Orchestrator.Tests.Calls;

/// <summary>The Status the HTTP API answers, and the .NET client throws, for a grain call lost in
/// transit: one mapping for both.</summary>
public sealed class CallFailureStatusTests
{
    [Fact]
    public void ACallWhoseSiloDiedHoldingItMayHaveBeenApplied()
    {
        var status = CallFailures.StatusOf(new SiloUnavailableException("The target silo became unavailable for message: ..."))!;

        Assert.Equal(503, status.Code);
        Assert.Contains("may or may not have been applied", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARejectedCallIsTheClusterSettling()
    {
        var status = CallFailures.StatusOf(new SiloUnavailableException())!;

        Assert.Equal(503, status.Code);
        Assert.Contains("settling", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ATimeoutIsA504AndTheGrainsOwnErrorsPassUnchanged()
    {
        Assert.Equal(504, CallFailures.StatusOf(new TimeoutException("no answer in 20 s"))!.Code);
        Assert.Null(CallFailures.StatusOf(ApiErrors.NotFound(ResourceTypes.Pod, "p")));
        Assert.Null(CallFailures.StatusOf(new InvalidOperationException("a bug")));
    }
}
