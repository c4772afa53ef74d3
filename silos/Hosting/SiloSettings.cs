using Microsoft.Extensions.Options;

namespace Orchestrator.Silo.Hosting;

/// <summary>
/// How the silo runs, from the configuration section "Orchestrator" (appsettings.json,
/// environment variables such as <c>Orchestrator__DataDirectory</c>, or command-line
/// arguments such as <c>--Orchestrator:DataDirectory=/var/lib/orchestrator</c>).
/// </summary>
public sealed class SiloSettings
{
    /// <summary>"embedded" (the default: one silo, SQLite under <see cref="DataDirectory"/>) or
    /// "cluster" (several silos on Redis membership and PostgreSQL state).</summary>
    public string Profile { get; set; } = "embedded";

    /// <summary>Where the embedded profile keeps its database. Default "data" under the working
    /// directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>Orleans cluster and service ids; silos and clients of one cluster share them.</summary>
    public string ClusterId { get; set; } = "orchestrator";

    public string ServiceId { get; set; } = "orchestrator";

    /// <summary>Port for silo-to-silo traffic. Default 11111.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port node agents and other grain clients connect to. Default 30000.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Lowest reminder period Orleans accepts. Orleans' default is 1 minute; tests lower
    /// it together with Orchestrator:ResyncPeriod.</summary>
    public TimeSpan MinimumReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>HTTP address of the API when neither --urls nor ASPNETCORE_URLS is given.</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";
}

public sealed class SiloSettingsValidator : IValidateOptions<SiloSettings>
{
    public ValidateOptionsResult Validate(string? name, SiloSettings s)
    {
        var problems = new List<string>();
        if (s.Profile is not ("embedded" or "cluster"))
        {
            problems.Add($"Orchestrator:Profile \"{s.Profile}\" must be \"embedded\" or \"cluster\".");
        }
        if (string.IsNullOrWhiteSpace(s.DataDirectory))
        {
            problems.Add("Orchestrator:DataDirectory must name a directory, e.g. /var/lib/orchestrator.");
        }
        if (s.SiloPort is < 1 or > 65535 || s.GatewayPort is < 1 or > 65535 || s.SiloPort == s.GatewayPort)
        {
            problems.Add("Orchestrator:SiloPort and Orchestrator:GatewayPort must be two different ports between 1 and 65535.");
        }
        if (s.MinimumReminderPeriod < TimeSpan.Zero)
        {
            problems.Add("Orchestrator:MinimumReminderPeriod must not be negative.");
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
