using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orchestrator.Client.Hosting;
using Orchestrator.NodeAgent;
using Orchestrator.NodeAgent.Hosting;

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddOptions<NodeAgentOptions>().Bind(builder.Configuration.GetSection(NodeAgentOptions.Section)).ValidateOnStart();
builder.Services.AddSingleton<IValidateOptions<NodeAgentOptions>, NodeAgentOptionsValidator>();
builder.Services.AddOrchestratorClient(builder.Configuration);
builder.Services.AddHostedService<AgentService>();
builder.Build().Run();
