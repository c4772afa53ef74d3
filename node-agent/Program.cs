using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orchestrator.Client.Hosting;
using Orchestrator.NodeAgent;
using Orchestrator.NodeAgent.Agent;
using Orchestrator.NodeAgent.Hosting;
using Orchestrator.NodeAgent.Join;

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddOptions<NodeAgentOptions>().Bind(builder.Configuration.GetSection(NodeAgentOptions.Section)).ValidateOnStart();
builder.Services.AddSingleton<IValidateOptions<NodeAgentOptions>, NodeAgentOptionsValidator>();
// The node joins (or loads its stored credentials) before the grain client connects with them:
// hosted services start in the order they are added.
var credentials = new CurrentNodeCredentials();
builder.Services.AddSingleton(credentials);
builder.Services.AddHostedService<NodeCredentialService>();
builder.Services.AddOrchestratorClient(builder.Configuration, credentials.ClientCredentials);
// The agent's endpoint (container logs) answers calls the control plane signed, nobody else's.
builder.Services.AddControlPlaneOnlyEndpoint(() => credentials.Ca);
builder.Services.AddHostedService<AgentService>();
try
{
    builder.Build().Run();
    return 0;
}
catch (Exception ex) when (ex is NodeJoinException or ClientCredentialsException or ControlPlaneUnreachableException)
{
    // A refused token or an unreachable control plane: one line that says what to fix, no stack trace.
    Console.Error.WriteLine($"orchestrator-node-agent: {ex.Message}");
    return 1;
}
