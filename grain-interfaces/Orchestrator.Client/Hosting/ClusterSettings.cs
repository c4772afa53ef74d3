using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Orchestrator.Client.Hosting;

/// <summary>
/// Which control plane a process belongs to, read from the configuration section "Orchestrator"
/// the same way by silos, node agents and grain clients (so one settings file or one set of
/// environment variables such as <c>Orchestrator__Profile</c> serves all three): the profile,
/// the Orleans cluster and service ids, where the gateway is (embedded) and the Redis server
/// that lists the gateways (cluster).
/// </summary>
public sealed class ClusterSettings
{
    public const string Section = "Orchestrator";

    /// <summary>"embedded" (one silo on this machine, its gateway at 127.0.0.1:<see cref="GatewayPort"/>)
    /// or "cluster" (several silos on Redis membership; clients find the gateways in Redis).</summary>
    public string Profile { get; set; } = "embedded";

    /// <summary>Orleans cluster id; silos and clients of one cluster share it. In the cluster
    /// profile it also names the membership key in Redis. Default "orchestrator".</summary>
    public string ClusterId { get; set; } = "orchestrator";

    /// <summary>Orleans service id: stored grain state and reminders belong to it, so it must stay
    /// the same across restarts and upgrades. Default "orchestrator".</summary>
    public string ServiceId { get; set; } = "orchestrator";

    /// <summary>The port node agents and other grain clients connect to (a silo listens on it; an
    /// embedded client connects to it on 127.0.0.1). Default 30000.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Cluster profile: the Redis server that holds cluster membership, where silos
    /// register and clients read the list of gateways, as a StackExchange.Redis configuration
    /// string (e.g. "redis:6379,password=..."). Default "127.0.0.1:6379".</summary>
    public string Redis { get; set; } = "127.0.0.1:6379";

    public bool IsCluster => Profile == "cluster";

    /// <summary>Binds and checks the settings of <paramref name="configuration"/>'s "Orchestrator"
    /// section; throws <see cref="OptionsValidationException"/> naming each bad key.</summary>
    public static ClusterSettings From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var settings = configuration.GetSection(Section).Get<ClusterSettings>() ?? new ClusterSettings();
        var problems = new ClusterSettingsValidator().Validate(null, settings);
        if (problems.Failed)
        {
            throw new OptionsValidationException(nameof(ClusterSettings), typeof(ClusterSettings), problems.Failures);
        }
        return settings;
    }

    /// <summary>Where a client looks for the control plane, for messages.</summary>
    public string Describe() => IsCluster
        ? $"cluster \"{ClusterId}\" (service \"{ServiceId}\") with gateways listed in Redis at {Redis}"
        : $"an embedded silo's gateway at 127.0.0.1:{GatewayPort}";
}

public sealed class ClusterSettingsValidator : IValidateOptions<ClusterSettings>
{
    public ValidateOptionsResult Validate(string? name, ClusterSettings options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var s = options;
        var problems = new List<string>();
        if (s.Profile is not ("embedded" or "cluster"))
        {
            problems.Add($"Orchestrator:Profile \"{s.Profile}\" must be \"embedded\" or \"cluster\".");
        }
        if (string.IsNullOrWhiteSpace(s.ClusterId) || string.IsNullOrWhiteSpace(s.ServiceId))
        {
            problems.Add("Orchestrator:ClusterId and Orchestrator:ServiceId must not be empty.");
        }
        if (s.GatewayPort is < 1 or > 65535)
        {
            problems.Add("Orchestrator:GatewayPort must be a port between 1 and 65535.");
        }
        if (s.IsCluster && string.IsNullOrWhiteSpace(s.Redis))
        {
            problems.Add("Orchestrator:Redis must be set for the cluster profile, e.g. redis:6379.");
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}

/// <summary>
/// How a grain client connects and waits, also from "Orchestrator" (next to
/// <see cref="ClusterSettings"/>, which says where). The grain call retry is configured under
/// "Orchestrator:CallRetry" (see <c>Orchestrator.Calls.CallRetryOptions</c>).
/// </summary>
public sealed class OrchestratorClientOptions
{
    /// <summary>The kubeconfig whose current user the client is: the cluster CA, a client
    /// certificate of it with its key (the gateway requires one), and the token its calls carry.
    /// A silo writes its admin's to &lt;data directory&gt;/admin.kubeconfig. Required unless the
    /// host passes <see cref="ClientCredentials"/> itself.</summary>
    public string? Kubeconfig { get; set; }

    /// <summary>How long to keep trying to reach the control plane at start before giving up
    /// with an error (<see cref="ControlPlaneUnreachableException"/>). Default 60 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a grain call waits for its answer before failing with a TimeoutException.
    /// A client's call is forwarded by a gateway to the silo of the grain; if that silo dies
    /// before answering, Orleans 10.4.2 does not fail the call (dotnet/orleans#10165) and it
    /// waits this long, so a node agent's heartbeat or a watch stalls for up to this time after
    /// a silo crash. It must exceed the longest long-poll clients make (a watch waits up to
    /// 15 s). Default 20 s (Orleans: 30 s).
    /// </summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Cluster profile: how often the client re-reads the gateway list, which is how it
    /// learns of silos that joined (a cluster restarted on new addresses) or left. Default 5 s
    /// (Orleans: 1 minute).</summary>
    public TimeSpan GatewayListRefreshPeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest a watch's long-poll waits for a change before it asks again.</summary>
    public static readonly TimeSpan WatchPollWait = TimeSpan.FromSeconds(15);
}

public sealed class OrchestratorClientOptionsValidator : IValidateOptions<OrchestratorClientOptions>
{
    public ValidateOptionsResult Validate(string? name, OrchestratorClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        if (options.GatewayListRefreshPeriod <= TimeSpan.Zero || options.ConnectTimeout < TimeSpan.Zero)
        {
            problems.Add("Orchestrator:GatewayListRefreshPeriod must be positive and Orchestrator:ConnectTimeout not negative.");
        }
        if (options.ResponseTimeout <= OrchestratorClientOptions.WatchPollWait)
        {
            problems.Add("Orchestrator:ResponseTimeout must be longer than a watch's 15 s long-poll, e.g. 00:00:20.");
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
