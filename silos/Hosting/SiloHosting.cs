using Microsoft.Extensions.Options;
using Orchestrator.Grains.Hosting;
using Orchestrator.Grains.Storage;
using Orleans.Configuration;

namespace Orchestrator.Silo.Hosting;

public static class SiloHosting
{
    /// <summary>
    /// Makes this web application a control-plane silo: Orleans with the storage profile chosen
    /// by configuration, the control plane's grains, and the HTTP API's services.
    /// </summary>
    public static WebApplicationBuilder AddOrchestratorSilo(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection("Orchestrator");
        var settings = section.Get<SiloSettings>() ?? new SiloSettings();
        var problems = new SiloSettingsValidator().Validate(null, settings);
        if (problems.Failed)
        {
            throw new OptionsValidationException(nameof(SiloSettings), typeof(SiloSettings), problems.Failures);
        }
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls(SiloSettings.DefaultUrl);
        }
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = Api.RequestBody.MaxDrainBytes);

        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = settings.ServiceId;
            });
            switch (settings.Profile)
            {
                case "embedded":
                    var dataDirectory = Path.GetFullPath(settings.DataDirectory);
                    silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, serviceId: settings.ServiceId, clusterId: settings.ClusterId);
                    silo.AddSqliteGrainStorage("resources", o => o.DataDirectory = dataDirectory);
                    silo.UseSqliteReminderService(o => o.DataDirectory = dataDirectory);
                    break;
                default:
                    throw new OptionsValidationException(nameof(SiloSettings), typeof(SiloSettings),
                        ["Orchestrator:Profile \"cluster\" is not available in this build yet; use \"embedded\"."]);
            }
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = settings.MinimumReminderPeriod);
            silo.AddControlPlane(builder.Configuration);
        });
        return builder;
    }
}
