using System.Reflection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestrator.Calls;
using Orchestrator.GrainInterfaces;
using Orchestrator.Grains;
using Orleans.Runtime;
using Orleans.Serialization.Invocation;

namespace Orchestrator.Tests.Calls;

/// <summary>Which failed calls the filter repeats (only those never processed) and how long.</summary>
public sealed class TransientCallRetryFilterTests
{
    private static readonly CallRetryOptions Fast = new()
    {
        MaxElapsed = TimeSpan.FromSeconds(5),
        FirstDelay = TimeSpan.FromMilliseconds(1),
        MaxDelay = TimeSpan.FromMilliseconds(5),
    };

    [Fact]
    public async Task RetriesARejectedCallUntilItSucceeds()
    {
        var call = new FakeCall(typeof(ISchedulerGrain),
            Rejection("Target silo is known to be dead"),
            new SiloUnavailableException(),
            new Orleans.Runtime.Messaging.ConnectionFailedException("Unable to connect"));

        await Filter(Fast).Invoke(call);

        Assert.Equal(4, call.Attempts);
        Assert.Null(call.Response?.Exception);
    }

    [Fact]
    public async Task DoesNotRetryACallThatMayHaveRun()
    {
        // Orleans' message when the silo holding a request dies before answering.
        var call = new FakeCall(typeof(ISchedulerGrain),
            new SiloUnavailableException("The target silo became unavailable for message: Request ... See https://aka.ms/orleans-troubleshooting for troubleshooting help."));

        var thrown = await Assert.ThrowsAsync<SiloUnavailableException>(() => Filter(Fast).Invoke(call));

        Assert.Equal(1, call.Attempts);
        Assert.True(CallFailures.MayHaveBeenProcessed(thrown));
    }

    [Fact]
    public async Task DoesNotRetryApplicationErrorsOrTimeouts()
    {
        var call = new FakeCall(typeof(ISchedulerGrain), new TimeoutException("Response did not arrive on time"));

        await Assert.ThrowsAsync<TimeoutException>(() => Filter(Fast).Invoke(call));

        Assert.Equal(1, call.Attempts);
    }

    [Fact]
    public async Task RetriesRejectedReminderRegistrations()
    {
        var call = new FakeCall(typeof(Orleans.IReminderService), new SiloUnavailableException());

        await Filter(Fast).Invoke(call);

        Assert.Equal(2, call.Attempts);
    }

    [Fact]
    public async Task LeavesOrleansOwnCallsAlone()
    {
        // Membership probes and other system calls must fail fast.
        var call = new FakeCall(typeof(IManagementGrain), Rejection("rejected"));

        await Assert.ThrowsAsync<OrleansMessageRejectionException>(() => Filter(Fast).Invoke(call));

        Assert.Equal(1, call.Attempts);
    }

    [Fact]
    public async Task GivesUpAfterMaxElapsedWithTheLastFailure()
    {
        var options = new CallRetryOptions { MaxElapsed = TimeSpan.FromMilliseconds(50), FirstDelay = TimeSpan.FromMilliseconds(5), MaxDelay = TimeSpan.FromMilliseconds(10) };
        var call = new FakeCall(typeof(ISchedulerGrain), Enumerable.Repeat<Exception>(Rejection("still rejected"), 1000).ToArray());

        var thrown = await Assert.ThrowsAsync<OrleansMessageRejectionException>(() => Filter(options).Invoke(call));

        Assert.Equal("still rejected", thrown.Message);
        Assert.InRange(call.Attempts, 2, 20);
    }

    [Fact]
    public async Task ReportsFailuresCarriedInTheResponse()
    {
        var call = new FakeCall(typeof(ISchedulerGrain), Rejection("rejected")) { FailInResponse = true };

        await Filter(Fast).Invoke(call);

        Assert.Equal(2, call.Attempts);
        Assert.Null(call.Response?.Exception);
    }

    /// <summary>Orleans creates these itself; their constructors are internal.</summary>
    private static OrleansMessageRejectionException Rejection(string message) =>
        (OrleansMessageRejectionException)Activator.CreateInstance(
            typeof(OrleansMessageRejectionException), BindingFlags.NonPublic | BindingFlags.Instance, null, [message], null)!;

    private static TransientCallRetryFilter Filter(CallRetryOptions options) =>
        new(Options.Create(options), NullLogger<TransientCallRetryFilter>.Instance);

    /// <summary>A call that fails with the given exceptions in turn, then succeeds.</summary>
    private sealed class FakeCall(Type interfaceType, params Exception[] failures) : IOutgoingGrainCallContext
    {
        public int Attempts { get; private set; }

        public bool FailInResponse { get; init; }

        public IInvokable Request { get; } = new FakeRequest(interfaceType);

        public object Grain => null!;

        public MethodInfo InterfaceMethod => null!;

        public object? Result { get; set; }

        public Response? Response { get; set; }

        public IGrainContext? SourceContext => null;

        public GrainId? SourceId => null;

        public GrainId TargetId => GrainId.Create("scheduler", "default");

        public GrainInterfaceType InterfaceType => default;

        public string InterfaceName => interfaceType.Name;

        public string MethodName => "Call";

        public Task Invoke()
        {
            var attempt = Attempts++;
            if (attempt < failures.Length)
            {
                if (FailInResponse)
                {
                    Response = Response.FromException(failures[attempt]);
                    return Task.CompletedTask;
                }
                throw failures[attempt];
            }
            Response = Response.Completed;
            return Task.CompletedTask;
        }
    }

    private sealed class FakeRequest(Type interfaceType) : IInvokable
    {
        public Type GetInterfaceType() => interfaceType;

        public object GetTarget() => throw new NotSupportedException();

        public void SetTarget(ITargetHolder holder) => throw new NotSupportedException();

        public ValueTask<Response> Invoke() => throw new NotSupportedException();

        public int GetArgumentCount() => 0;

        public object GetArgument(int index) => throw new NotSupportedException();

        public void SetArgument(int index, object value) => throw new NotSupportedException();

        public string GetMethodName() => "Call";

        public string GetInterfaceName() => interfaceType.Name;

        public string GetActivityName() => "Call";

        public MethodInfo GetMethod() => throw new NotSupportedException();

        public TimeSpan? GetDefaultResponseTimeout() => null;

        public void Dispose()
        {
        }
    }
}
