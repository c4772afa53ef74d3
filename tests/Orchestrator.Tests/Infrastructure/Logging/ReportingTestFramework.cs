using System.Reflection;
using System.Text;
using Orchestrator.Tests.Infrastructure.Logging;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestFramework("Orchestrator.Tests.Infrastructure.Logging.ReportingTestFramework", "Orchestrator.Tests")]

namespace Orchestrator.Tests.Infrastructure.Logging;

/// <summary>
/// xunit (v2) as it comes, but each test's logs go to a file of its own and only a failed
/// test's result shows them (<see cref="CollectionLog"/>): the console of a run reads like a report.
/// Whatever still writes to the console in this process (a host's console logger) is routed
/// to the file of the collection it runs for.
/// </summary>
public sealed class ReportingTestFramework : XunitTestFramework
{
    private static int s_started;

    public ReportingTestFramework(IMessageSink messageSink)
        : base(messageSink)
    {
        if (Interlocked.Exchange(ref s_started, 1) == 0)
        {
            CollectionLog.Reset();
            Console.SetOut(new TestLogConsole());
            Console.SetError(new TestLogConsole());
        }
    }

    protected override ITestFrameworkExecutor CreateExecutor(AssemblyName assemblyName) =>
        new Executor(assemblyName, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Executor(AssemblyName assemblyName, ISourceInformationProvider sourceInformationProvider, IMessageSink diagnosticMessageSink)
        : XunitTestFrameworkExecutor(assemblyName, sourceInformationProvider, diagnosticMessageSink)
    {
        // async void as in xunit's own executor: the runner reports completion through its messages.
        protected override async void RunTestCases(IEnumerable<IXunitTestCase> testCases, IMessageSink executionMessageSink, ITestFrameworkExecutionOptions executionOptions)
        {
            using var runner = new AssemblyRunner(TestAssembly, testCases, DiagnosticMessageSink, executionMessageSink, executionOptions);
            await runner.RunAsync();
        }
    }

    private sealed class AssemblyRunner(ITestAssembly testAssembly, IEnumerable<IXunitTestCase> testCases, IMessageSink diagnosticMessageSink, IMessageSink executionMessageSink, ITestFrameworkExecutionOptions executionOptions)
        : XunitTestAssemblyRunner(testAssembly, testCases, diagnosticMessageSink, executionMessageSink, executionOptions)
    {
        // Async so that the log entered here belongs to this collection's flow only (an
        // AsyncLocal set in an async method is undone when it returns).
        protected override async Task<RunSummary> RunTestCollectionAsync(IMessageBus messageBus, ITestCollection testCollection, IEnumerable<IXunitTestCase> testCases, CancellationTokenSource cancellationTokenSource)
        {
            var log = CollectionLog.Enter(testCollection.DisplayName);
            using var bus = new LoggingMessageBus(messageBus, log);
            try
            {
                return await new XunitTestCollectionRunner(testCollection, testCases, DiagnosticMessageSink, bus, TestCaseOrderer, new ExceptionAggregator(Aggregator), cancellationTokenSource).RunAsync();
            }
            finally
            {
                log.Close();
            }
        }
    }

    /// <summary>Opens and closes each test's file as the runner reports the test starting and
    /// finishing, copies the test's own output into it, and adds the file's tail to a failure.</summary>
    private sealed class LoggingMessageBus(IMessageBus inner, CollectionLog log) : IMessageBus
    {
        public bool QueueMessage(IMessageSinkMessage message)
        {
            switch (message)
            {
                case ITestStarting starting:
                    log.BeginTest(starting.TestClass.Class.Name, starting.TestMethod.Method.Name, starting.Test.DisplayName);
                    break;
                case ITestOutput output:
                    log.Write(output.Output);
                    break;
                case ITestFailed failed:
                    message = new TestFailed(failed.Test, failed.ExecutionTime, failed.Output + log.FailureReport(),
                        failed.ExceptionTypes, failed.Messages, failed.StackTraces, failed.ExceptionParentIndices);
                    break;
                case ITestFinished:
                    log.EndTest();
                    break;
            }
            return inner.QueueMessage(message);
        }

        // The inner bus belongs to the assembly runner, which disposes of it.
        public void Dispose()
        {
        }
    }

    /// <summary>Console output of this process, into the log of the collection the writing code
    /// runs for (a console logger's thread runs for the collection that created it).</summary>
    private sealed class TestLogConsole : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value) => CollectionLog.Current.Write(value.ToString());

        public override void Write(string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                CollectionLog.Current.Write(value);
            }
        }

        public override void Write(char[] buffer, int index, int count) => CollectionLog.Current.Write(new string(buffer, index, count));

        public override void WriteLine(string? value) => CollectionLog.Current.Write(value + "\n");
    }
}
