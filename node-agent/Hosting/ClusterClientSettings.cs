using Microsoft.Extensions.Options;

namespace Orchestrator.NodeAgent.Hosting;

/// <summary>
/// How a grain client (node agent, benchmark, any .NET service) finds the control plane, from
/// the configuration section "Orchestrator" shared with the silo (so one settings file or one set
/// of environment variables serves both). The grain call retry is configured under
/// "Orchestrator:CallRetry" (see <c>Orchestrator.Calls.CallRetryOptions</c>).
/// </summary>
public sealed class ClusterClientSettings
{
    /// <summary>"embedded" (a silo on this machine, reached at <see cref="GatewayPort"/>) or
    /// "cluster" (gateways found through Redis).</summary>
    public string Profile { get; set; } = "embedded";

    /// <summary>Orleans cluster id; must match the silos'. Default "orchestrator".</summary>
    public string ClusterId { get; set; } = "orchestrator";

    /// <summary>Orleans service id; must match the silos'. Default "orchestrator".</summary>
    public string ServiceId { get; set; } = "orchestrator";

    /// <summary>Embedded profile: the local silo's gateway port. Default 30000.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Cluster profile: the Redis server holding cluster membership, where the client
    /// reads the list of gateways (every active silo), as a StackExchange.Redis configuration
    /// string. Default "127.0.0.1:6379".</summary>
    public string Redis { get; set; } = "127.0.0.1:6379";

    /// <summary>Cluster profile: how often the client re-reads the gateway list, which is how it
    /// learns of silos that joined (a cluster restarted on new addresses) or left. Default 5 s
    /// (Orleans: 1 minute).</summary>
    public TimeSpan GatewayListRefreshPeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long to keep trying to reach the control plane at start before giving up
    /// with an error. Default 60 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a grain call waits for its answer before failing with a TimeoutException.
    /// A client's call is forwarded by a gateway to the silo of the grain; if that silo dies
    /// before answering, Orleans 10.4.2 does not fail the call (dotnet/orleans#10165) and it
    /// waits this long, so a node agent's heartbeat or pod watch stalls for up to this time after
    /// a silo crash. It must exceed the longest long-poll clients make (the pod watch waits up to
    /// 15 s). Default 20 s (Orleans: 30 s).
    /// </summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Where the client looks for the control plane, for messages.</summary>
    public string Describe() => Profile == "cluster"
        ? $"cluster \"{ClusterId}\" (service \"{ServiceId}\") with gateways listed in Redis at {Redis}"
        : $"an embedded silo's gateway at 127.0.0.1:{GatewayPort}";
}

public sealed class ClusterClientSettingsValidator : IValidateOptions<ClusterClientSettings>
{
    public ValidateOptionsResult Validate(string? name, ClusterClientSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var problems = new List<string>();
        if (s.Profile is not ("embedded" or "cluster"))
        {
            problems.Add($"Orchestrator:Profile \"{s.Profile}\" must be \"embedded\" or \"cluster\".");
        }
        if (string.IsNullOrWhiteSpace(s.ClusterId) || string.IsNullOrWhiteSpace(s.ServiceId))
        {
            problems.Add("Orchestrator:ClusterId and Orchestrator:ServiceId must not be empty.");
        }
        if (s.Profile == "embedded" && s.GatewayPort is < 1 or > 65535)
        {
            problems.Add("Orchestrator:GatewayPort must be a port between 1 and 65535.");
        }
        if (s.Profile == "cluster" && string.IsNullOrWhiteSpace(s.Redis))
        {
            problems.Add("Orchestrator:Redis must be set for the cluster profile, e.g. redis:6379.");
        }
        if (s.GatewayListRefreshPeriod <= TimeSpan.Zero || s.ConnectTimeout < TimeSpan.Zero)
        {
            problems.Add("Orchestrator:GatewayListRefreshPeriod must be positive and Orchestrator:ConnectTimeout not negative.");
        }
        if (s.ResponseTimeout <= TimeSpan.FromSeconds(15))
        {
            problems.Add("Orchestrator:ResponseTimeout must be longer than the pod watch's 15 s long-poll, e.g. 00:00:20.");
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
