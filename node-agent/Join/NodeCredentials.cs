using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestrator.Client.Hosting;
using Orchestrator.NodeProtocol;
using Polly;
using Polly.Retry;

namespace Orchestrator.NodeAgent.Join;

/// <summary>
/// The node's current credentials as the grain client reads them: the CA, the certificate new
/// gateway connections present, and the token every call carries. Made before the host is built
/// (the client's registration needs its <see cref="ClientCredentials"/>) and filled by
/// <see cref="NodeCredentialService"/> when the host starts, before the client connects.
/// </summary>
public sealed class CurrentNodeCredentials
{
    private sealed record Loaded(NodeCredentialSet Set, X509Certificate2 Ca, X509Certificate2 Certificate);

    private volatile Loaded? _current;

    public CurrentNodeCredentials()
    {
        ClientCredentials = new ClientCredentials(() => Required.Ca, () => Required.Certificate, () => _current?.Set.Token);
    }

    public ClientCredentials ClientCredentials { get; }

    public NodeCredentialSet? Set => _current?.Set;

    /// <summary>The cluster CA the node joined with.</summary>
    public X509Certificate2 Ca => Required.Ca;

    private Loaded Required => _current ?? throw new InvalidOperationException("the node has not joined yet");

    /// <summary>Switches to <paramref name="set"/>: the next connection and call use it. The previous
    /// certificate stays alive, since open connections may still hold it.</summary>
    public void Use(NodeCredentialSet set) => _current = new Loaded(set, X509Certificate2.CreateFromPem(set.CaPem), set.LoadCertificate());
}

/// <summary>
/// Joins the cluster when the agent starts (or reuses the credentials stored by an earlier run),
/// then renews them when two thirds of their lifetime have passed, with the node token. Joining
/// retries an unreachable API until Orchestrator:ConnectTimeout; a refused token stops the agent
/// with a message saying so.
/// </summary>
public sealed partial class NodeCredentialService(
    CurrentNodeCredentials current,
    IOptions<NodeAgentOptions> options,
    OrchestratorClientOptions clientOptions,
    TimeProvider time,
    ILogger<NodeCredentialService> logger) : BackgroundService
{
    /// <summary>Stored credentials this close to expiry are not reused: join again instead.</summary>
    private static readonly TimeSpan ReuseMargin = TimeSpan.FromSeconds(30);

    /// <summary>Pause between attempts to reach the API, to join or renew.</summary>
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private NodeCredentialFile File => new(options.Value.DataDirectory);

    private string NodeName => options.Value.NodeName;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var stored = File.Load();
        if (stored is not null && stored.NodeName == NodeName && stored.ExpirationTimestamp > time.GetUtcNow() + ReuseMargin)
        {
            current.Use(stored);
            LogReused(logger, NodeName, File.Path, stored.ExpirationTimestamp);
        }
        else
        {
            var token = BootstrapToken() ?? throw new NodeJoinException(
                $"Agent:Token or Agent:TokenFile must be set for node {NodeName} to join: the node bootstrap token (K10...::node:...) "
                + "a silo writes to <data directory>/node-token.");
            var joined = await WithRetriesAsync(clientOptions.ConnectTimeout, async (server, ct) =>
            {
                var client = new NodeJoinClient(server, time);
                var ca = await client.FetchCaAsync(token, ct);
                return await client.RequestAsync(NodeName, token.Credential, ca, ct);
            }, cancellationToken);
            Save(joined);
            LogJoined(logger, NodeName, joined.ExpirationTimestamp);
        }
        await base.StartAsync(cancellationToken);
    }

    /// <summary>Renews at <see cref="NodeCredentialSet.RenewAt"/>; retries until the credentials
    /// expire, then joins again with the bootstrap token if the agent has it.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var set = current.Set!;
            var wait = set.RenewAt - time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, stoppingToken);
            }
            var left = set.ExpirationTimestamp - time.GetUtcNow();
            try
            {
                var renewed = await WithRetriesAsync(left > RetryDelay ? left : RetryDelay,
                    (server, ct) => new NodeJoinClient(server, time).RequestAsync(NodeName, set.Token, set.CaPem, ct), stoppingToken);
                Save(renewed);
                LogRenewed(logger, NodeName, renewed.ExpirationTimestamp);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogRenewFailed(logger, NodeName, ex.Message);
                if (BootstrapToken() is { } token)
                {
                    var joined = await WithRetriesAsync(Timeout.InfiniteTimeSpan, async (server, ct) =>
                    {
                        var client = new NodeJoinClient(server, time);
                        return await client.RequestAsync(NodeName, token.Credential, await client.FetchCaAsync(token, ct), ct);
                    }, stoppingToken);
                    Save(joined);
                    LogJoined(logger, NodeName, joined.ExpirationTimestamp);
                }
                else
                {
                    await Task.Delay(RetryDelay, time, stoppingToken);
                }
            }
        }
    }

    private void Save(NodeCredentialSet set)
    {
        File.Save(set);
        current.Use(set);
    }

    private NodeJoinToken? BootstrapToken()
    {
        var o = options.Value;
        var text = o.Token is { Length: > 0 } token ? token
            : o.TokenFile is { Length: > 0 } path ? System.IO.File.ReadAllText(path).Trim()
            : null;
        return text is { Length: > 0 } ? NodeJoinToken.Parse(text) : null;
    }

    /// <summary>Tries the API servers in turn until one answers or <paramref name="deadline"/>
    /// passes; a refusal (<see cref="NodeJoinException"/>) is final.</summary>
    private async Task<T> WithRetriesAsync<T>(TimeSpan deadline, Func<Uri, CancellationToken, Task<T>> attempt, CancellationToken cancellationToken)
    {
        var servers = options.Value.Servers;
        var builder = new ResiliencePipelineBuilder<T>();
        if (deadline != Timeout.InfiniteTimeSpan)
        {
            // Outermost, so that it bounds all attempts together, not each one.
            builder.AddTimeout(deadline);
        }
        builder.AddRetry(new RetryStrategyOptions<T>
        {
            ShouldHandle = new PredicateBuilder<T>().Handle<HttpRequestException>().Handle<TaskCanceledException>(_ => !cancellationToken.IsCancellationRequested).Handle<IOException>(),
            MaxRetryAttempts = int.MaxValue,
            Delay = RetryDelay,
            BackoffType = DelayBackoffType.Constant,
            OnRetry = args =>
            {
                LogUnreachable(logger, string.Join(", ", servers), args.Outcome.Exception?.Message ?? "");
                return default;
            },
        });
        var pipeline = builder.Build();
        var round = 0;
        try
        {
            return await pipeline.ExecuteAsync(async ct => await attempt(servers[round++ % servers.Count], ct), cancellationToken);
        }
        catch (Polly.Timeout.TimeoutRejectedException ex)
        {
            throw new NodeJoinException($"no API server answered within {deadline.TotalSeconds:0.#} s at {string.Join(", ", servers)} (Agent:Server): {ex.Message}");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {Node} reuses its credentials from {Path} (valid until {Expires})")]
    private static partial void LogReused(ILogger logger, string node, string path, DateTimeOffset expires);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {Node} joined the cluster: credentials valid until {Expires}")]
    private static partial void LogJoined(ILogger logger, string node, DateTimeOffset expires);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {Node} renewed its credentials: valid until {Expires}")]
    private static partial void LogRenewed(ILogger logger, string node, DateTimeOffset expires);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {Node} could not renew its credentials: {Reason}")]
    private static partial void LogRenewFailed(ILogger logger, string node, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "API not reachable yet at {Servers} ({Reason}); retrying")]
    private static partial void LogUnreachable(ILogger logger, string servers, string reason);
}
