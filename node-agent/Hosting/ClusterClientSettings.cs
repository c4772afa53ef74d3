namespace Orchestrator.NodeAgent.Hosting;

/// <summary>
/// How a grain client (node agent, benchmark, any .NET service) finds the control plane, from
/// the configuration section "Orchestrator" shared with the silo.
/// </summary>
public sealed class ClusterClientSettings
{
    /// <summary>"embedded" (a silo on this machine, reached at <see cref="GatewayPort"/>) or
    /// "cluster" (gateways found through Redis).</summary>
    public string Profile { get; set; } = "embedded";

    public string ClusterId { get; set; } = "orchestrator";

    public string ServiceId { get; set; } = "orchestrator";

    /// <summary>The embedded silo's gateway port. Default 30000.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>How long to keep trying to reach the control plane at start before giving up
    /// with an error. Default 60 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
