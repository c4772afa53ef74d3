using Orchestrator.Silo.Api;
using Orchestrator.Silo.Security;
using Orleans.Dashboard;

namespace Orchestrator.Silo.Hosting;

public static class SiloApp
{
    /// <summary>The control-plane silo with its HTTP API, built from command-line arguments and
    /// configuration (Program runs it; tests host it in-process).</summary>
    public static WebApplication Build(string[] args) => Build(args, null);

    /// <summary>As <see cref="Build(string[])"/>, with a last say over the services (tests replace
    /// one with a faulty one).</summary>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? configureServices)
    {
        // Settings files sit next to the binary; relative paths in them (the data directory)
        // are taken from the working directory.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.AddOrchestratorSilo();
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();
        app.UseKubernetesErrors();
        app.UseRouting();
        // Audit sees every request's outcome, the 401s and 403s of the security step included.
        app.UseAuditLog();
        app.UseApiSecurity();
        app.MapKubernetesApi();
        if ((app.Configuration.GetSection("Orchestrator").Get<SiloSettings>() ?? new SiloSettings()).Dashboard)
        {
            app.MapOrleansDashboard(routePrefix: "/dashboard");
        }
        return app;
    }
}
