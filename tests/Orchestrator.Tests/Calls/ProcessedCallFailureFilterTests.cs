using System.Reflection;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Hosting;
using Orchestrator.Model;
using Orchestrator.Grains;
using Orleans.Runtime;
using Orleans.Serialization.Invocation;

namespace Orchestrator.Tests.Calls;

/// <summary>A grain method that let a nested call's rejection escape answers 503 "may have been
/// partly applied", so its caller cannot mistake it for its own call being rejected.</summary>
public sealed class ProcessedCallFailureFilterTests
{
    private static readonly MethodInfo OurMethod = typeof(ISchedulerGrain).GetMethod(nameof(ISchedulerGrain.GetStatsAsync))!;

    [Fact]
    public async Task ANestedRejectionLeavesAsA503ThatIsNotRetried()
    {
        var call = new FakeIncomingCall(OurMethod, new SiloUnavailableException());

        var thrown = await Assert.ThrowsAsync<ApiException>(() => new ProcessedCallFailureFilter().Invoke(call));

        Assert.Equal(503, thrown.Code);
        Assert.Contains("partly applied", thrown.Message, StringComparison.Ordinal);
        Assert.False(Orchestrator.Calls.CallFailures.WasNotProcessed(thrown));
    }

    [Fact]
    public async Task OtherFailuresPassUnchanged()
    {
        var conflict = ApiErrors.Conflict(ResourceTypes.Pod, "p", "stale");
        var call = new FakeIncomingCall(OurMethod, conflict);

        var thrown = await Assert.ThrowsAsync<ApiException>(() => new ProcessedCallFailureFilter().Invoke(call));

        Assert.Same(conflict, thrown);
    }

    private sealed class FakeIncomingCall(MethodInfo method, Exception failure) : IIncomingGrainCallContext
    {
        public IInvokable Request => null!;

        public object Grain => null!;

        public MethodInfo InterfaceMethod => method;

        public MethodInfo ImplementationMethod => method;

        public IGrainContext TargetContext => null!;

        public GrainId TargetId => GrainId.Create("scheduler", "default");

        public GrainId? SourceId => null;

        public object? Result { get; set; }

        public Response? Response { get; set; }

        public GrainInterfaceType InterfaceType => default;

        public string InterfaceName => method.DeclaringType!.Name;

        public string MethodName => method.Name;

        public Task Invoke() => Task.FromException(failure);
    }
}
