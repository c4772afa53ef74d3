using System.Runtime.CompilerServices;

namespace Orchestrator.Tests.Infrastructure;

/// <summary>
/// Until every client sends its bearer token with each grain call (the node agent, the client
/// package, the frozen client and the sample service are separate processes this harness cannot
/// give one), the silos the tests start run with grain call authorization off: the setting
/// travels as an environment variable, which in-process silos read and child processes inherit.
/// Tests of the authorization turn it on with a command-line setting, which wins; run the suite
/// with <c>Orchestrator__Security__AuthorizeGrainCalls=true</c> in the environment to turn it
/// on everywhere. Remove this once clients send tokens.
/// </summary>
internal static class GrainCallAuthorizationHarness
{
    public const string Variable = "Orchestrator__Security__AuthorizeGrainCalls";

    [ModuleInitializer]
    internal static void TurnOffUnlessAsked()
    {
        if (Environment.GetEnvironmentVariable(Variable) is null)
        {
            Environment.SetEnvironmentVariable(Variable, "false");
        }
    }
}
