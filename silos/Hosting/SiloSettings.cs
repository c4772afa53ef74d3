using System.Net;
using Microsoft.Extensions.Options;
using Orchestrator.Client.Hosting;
using Npgsql;

namespace Orchestrator.Silo.Hosting;

/// <summary>
/// How the silo runs, from the configuration section "Orchestrator" (appsettings.json,
/// environment variables such as <c>Orchestrator__DataDirectory</c>, or command-line
/// arguments such as <c>--Orchestrator:DataDirectory=/var/lib/orchestrator</c>).
/// </summary>
/// <remarks>
/// Also read from "Orchestrator": <c>ClusterSettings</c> (Profile, ClusterId, ServiceId,
/// GatewayPort, Redis), read the same way by node agents and clients; the control plane's
/// <c>ControlPlaneOptions</c> (ServiceCidr, ResyncPeriod, ...) and the grain call retry
/// (<c>Orchestrator:CallRetry</c>, see <c>Orchestrator.Calls.CallRetryOptions</c>).
/// </remarks>
public sealed class SiloSettings
{
    /// <summary>Where the embedded profile keeps its database and the cluster's credentials, and
    /// where both profiles write the admin kubeconfig. Default "data" under the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>Port for silo-to-silo traffic. Default 11111. (The gateway port, profile, cluster
    /// and service ids and Redis are <c>ClusterSettings</c>, shared with clients.)</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Lowest reminder period Orleans accepts. Orleans' default is 1 minute; tests lower
    /// it together with Orchestrator:ResyncPeriod.</summary>
    public TimeSpan MinimumReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Cluster profile: the PostgreSQL database that holds grain state and reminders, as an
    /// Npgsql connection string. The database must exist; the silo creates and migrates the tables.
    /// Default "Host=127.0.0.1;Port=5432;Database=orchestrator;Username=orchestrator".</summary>
    public string Postgres { get; set; } = "Host=127.0.0.1;Port=5432;Database=orchestrator;Username=orchestrator";

    /// <summary>Cluster profile: how long a starting silo waits for PostgreSQL before it stops with
    /// an error. Default 60 s.</summary>
    public TimeSpan PostgresStartTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Cluster profile: the IP address other silos and clients reach this silo at, written
    /// to the membership table. Default: the machine's first non-loopback IPv4 address (Orleans'
    /// choice). Set it when the silo has several addresses or runs behind NAT.</summary>
    public string? AdvertisedIP { get; set; }

    /// <summary>Cluster profile: the local address the silo and gateway ports listen on. Default:
    /// the advertised address; "0.0.0.0" listens on every interface (containers behind NAT).</summary>
    public string? ListenIP { get; set; }

    /// <summary>Serve the Orleans dashboard (silos, grains, calls, reminders of the whole cluster)
    /// at /dashboard. Default false: it is a tool for Orleans developers, has no authentication of
    /// its own, and costs a silo at rest about 75 MiB of memory and a third of its CPU (a profiler
    /// on every grain call and a metrics collection every second; BENCHMARKS.md, footprint).</summary>
    public bool Dashboard { get; set; }

    /// <summary>TLS and credentials of the API ("Orchestrator:Security:*").</summary>
    public Security.SecuritySettings Security { get; set; } = new();

    /// <summary>Cluster profile: failure detection ("Orchestrator:Membership:*").</summary>
    public MembershipSettings Membership { get; set; } = new();

    /// <summary>Address of the API (HTTPS only) when neither --urls nor ASPNETCORE_URLS is given.</summary>
    public const string DefaultUrl = "https://127.0.0.1:8080";
}

/// <summary>
/// Failure detection of the cluster profile, mapped onto Orleans' ClusterMembershipOptions. The
/// defaults are tuned for a control plane: a dead silo's grains (the scheduler, controllers,
/// indexes) are unavailable until it is declared dead, so detect it in about 2 s rather than
/// Orleans' 10-15 s, and let a restarted cluster evict its predecessors' rows within seconds.
/// Three missed one-second probes (not two) because on a starved two-core machine two was seen to
/// declare a live, busy silo dead, which then stops.
/// </summary>
/// <remarks>
/// Measured on the issue: 12-15 s from kill -9 to the first successful call with Orleans'
/// defaults, about 1 s with ProbeTimeout 1 s and NumMissedProbesLimit 2 (we use 3: on two busy cores, 2
/// declared live silos dead), about 2 s with 3. Shorter timeouts risk
/// declaring a silo dead that is only paused (long GC, a starved machine); Orleans lengthens the
/// effective probe timeout when the prober itself is degraded, and a silo wrongly declared dead
/// stops and must be restarted (its grains reactivate elsewhere from storage).
/// </remarks>
public sealed class MembershipSettings
{
    /// <summary>Initial liveness probe timeout; Orleans adapts the effective timeout per monitored
    /// silo between half and four times this value. Default 1 s (Orleans: 5 s).</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Missed probes after which a silo suspects another and votes it dead. Default 3
    /// (Orleans' default too; with our 1 s probes that is about 3 s).</summary>
    public int NumMissedProbesLimit { get; set; } = 3;

    /// <summary>Fresh votes needed to declare a silo dead (fewer when the cluster is smaller than
    /// twice this). Default 2 (Orleans' default).</summary>
    public int NumVotesForDeathDeclaration { get; set; } = 2;

    /// <summary>How long a vote counts. Votes are renewed every probe while the suspicion lasts, so
    /// this only has to span a few probe periods; a short life keeps votes cast by silos that then
    /// died themselves from combining with one new vote against a healthy silo. Default 20 s
    /// (Orleans: 2 min).</summary>
    public TimeSpan DeathVoteExpirationTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How often a silo writes its heartbeat to the membership table. An Active row
    /// without a heartbeat for this × <see cref="NumMissedTableIAmAliveLimit"/> is stale: joining
    /// silos probe it and one vote evicts it, so a cluster restarted after a total loss, on new
    /// addresses, is held back by its predecessors' rows for seconds rather than minutes (a silo
    /// restarted on its old address evicts its predecessor at once). One small Redis write per
    /// silo per period. Default 2 s (Orleans: 30 s).</summary>
    public TimeSpan IAmAliveTablePublishTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Missed heartbeats after which an Active row counts as stale. Default 3 (Orleans'
    /// default), so rows of dead silos are stale after 6 s while a slow Redis write or two is
    /// tolerated.</summary>
    public int NumMissedTableIAmAliveLimit { get; set; } = 3;

    /// <summary>How often each silo re-reads the whole membership table (gossip carries changes
    /// sooner). Default 10 s (Orleans: 60 s).</summary>
    public TimeSpan TableRefreshTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a starting silo tries to join before it gives up and stops. Default 2 min
    /// (Orleans: 5 min).</summary>
    public TimeSpan MaxJoinAttemptTime { get; set; } = TimeSpan.FromMinutes(2);
}

public sealed class SiloSettingsValidator(ClusterSettings cluster)
{
    public ValidateOptionsResult Validate(SiloSettings s)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(s.DataDirectory))
        {
            problems.Add("Orchestrator:DataDirectory must name a directory, e.g. /var/lib/orchestrator.");
        }
        if (s.SiloPort is < 1 or > 65535 || s.SiloPort == cluster.GatewayPort)
        {
            problems.Add("Orchestrator:SiloPort and Orchestrator:GatewayPort must be two different ports between 1 and 65535.");
        }
        if (s.MinimumReminderPeriod < TimeSpan.Zero)
        {
            problems.Add("Orchestrator:MinimumReminderPeriod must not be negative.");
        }
        if (cluster.IsCluster)
        {
            ValidateCluster(s, problems);
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    private static void ValidateCluster(SiloSettings s, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(s.Postgres))
        {
            problems.Add("Orchestrator:Postgres must be set for the cluster profile, e.g. Host=db;Database=orchestrator;Username=orchestrator;Password=...");
        }
        else
        {
            try
            {
                _ = new NpgsqlConnectionStringBuilder(s.Postgres);
            }
            catch (ArgumentException ex)
            {
                problems.Add($"Orchestrator:Postgres is not a valid Npgsql connection string: {ex.Message}");
            }
        }
        if (s.PostgresStartTimeout <= TimeSpan.Zero)
        {
            problems.Add("Orchestrator:PostgresStartTimeout must be positive, e.g. 00:01:00.");
        }
        if (s.AdvertisedIP is { } advertised && !IPAddress.TryParse(advertised, out _))
        {
            problems.Add($"Orchestrator:AdvertisedIP \"{advertised}\" must be an IP address such as 10.0.0.5.");
        }
        if (s.ListenIP is { } listen && !IPAddress.TryParse(listen, out _))
        {
            problems.Add($"Orchestrator:ListenIP \"{listen}\" must be an IP address such as 0.0.0.0.");
        }
        var m = s.Membership;
        if (m.ProbeTimeout <= TimeSpan.Zero || m.DeathVoteExpirationTimeout <= TimeSpan.Zero || m.IAmAliveTablePublishTimeout <= TimeSpan.Zero
            || m.TableRefreshTimeout <= TimeSpan.Zero || m.MaxJoinAttemptTime <= TimeSpan.Zero)
        {
            problems.Add("Orchestrator:Membership timeouts (ProbeTimeout, DeathVoteExpirationTimeout, IAmAliveTablePublishTimeout, TableRefreshTimeout, MaxJoinAttemptTime) must be positive.");
        }
        if (m.NumMissedProbesLimit < 1 || m.NumVotesForDeathDeclaration < 1 || m.NumMissedTableIAmAliveLimit < 1)
        {
            problems.Add("Orchestrator:Membership:NumMissedProbesLimit, NumVotesForDeathDeclaration and NumMissedTableIAmAliveLimit must be at least 1.");
        }
        if (m.DeathVoteExpirationTimeout < m.ProbeTimeout * (m.NumMissedProbesLimit + 1))
        {
            problems.Add("Orchestrator:Membership:DeathVoteExpirationTimeout must outlast the probes that produce a vote (ProbeTimeout × (NumMissedProbesLimit + 1)), or votes expire before they add up.");
        }
    }
}
