using Orchestrator.Silo.Api;
using Orchestrator.Silo.Hosting;

// Settings files sit next to the binary; relative paths in them (the data directory) are
// taken from the working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddOrchestratorSilo();

var app = builder.Build();
app.UseKubernetesErrors();
app.MapKubernetesApi();
app.Run();

/// <summary>The silo's entry point, visible to tests that host it in-process.</summary>
public partial class Program;
