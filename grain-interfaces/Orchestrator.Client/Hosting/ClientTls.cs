using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace Orchestrator.Client.Hosting;

/// <summary>The credentials of this process's grain client: given up front (the node agent's), or
/// loaded from Orchestrator:Kubeconfig when the host starts (<see cref="KubeconfigCredentialsLoader"/>).</summary>
internal sealed class ClientCredentialsSource(ClientCredentials? credentials)
{
    private volatile ClientCredentials? _current = credentials;

    /// <summary>Null until loaded: the client connects only after that.</summary>
    public ClientCredentials? Current => _current;

    public void Set(ClientCredentials credentials) => _current = credentials;

    public ClientCredentials Required => _current
        ?? throw new InvalidOperationException("The Orchestrator client's credentials are not loaded yet (Orchestrator:Kubeconfig).");
}

/// <summary>
/// The gateway connection's mutual TLS: the client shows its current client certificate of the
/// cluster CA and accepts only a gateway whose certificate chains to that CA (the silos dial by
/// address, so the check is the CA's, not a host name's).
/// </summary>
internal static class ClientTls
{
    public static void UseOrchestratorTls(this IClientBuilder client, ClientCredentialsSource source)
    {
        client.Configure<ClientConnectionOptions>(o => o.ConfigureConnection(c => c.UseClientTls(Options(source))));
    }

    private static TlsOptions Options(ClientCredentialsSource source) => new()
    {
        LocalClientCertificateSelector = (_, _, _, _, _) => source.Required.Certificate,
        RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
        RemoteCertificateValidation = (remote, _, _) => source.Required.Trusts(remote),
        OnAuthenticateAsClient = (_, ssl) => ssl.TargetHost = "system:silo",
    };
}

/// <summary>
/// Loads the client's credentials from Orchestrator:Kubeconfig as the host starts, before the
/// Orleans client connects; waits for the file for up to Orchestrator:ConnectTimeout (a silo
/// started alongside writes it when its API listens). Without credentials the start fails with a
/// message that says what to set.
/// </summary>
internal sealed partial class KubeconfigCredentialsLoader(
    ClientCredentialsSource source, string? kubeconfig, OrchestratorClientOptions options, TimeProvider time, ILogger<KubeconfigCredentialsLoader> logger) : IHostedService
{
    /// <summary>How often to look for a kubeconfig that is not there yet.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (source.Current is not null)
        {
            return;
        }
        if (string.IsNullOrWhiteSpace(kubeconfig))
        {
            throw new ClientCredentialsException(
                "The Orchestrator client has no credentials: the gateway admits only clients with a certificate of the cluster CA. "
                + "Set Orchestrator:Kubeconfig to a kubeconfig with the cluster CA, a client certificate and key, and a token "
                + "(a silo writes one to <data directory>/admin.kubeconfig), or pass ClientCredentials to AddOrchestratorClient.");
        }
        var deadline = time.GetUtcNow() + options.ConnectTimeout;
        if (!File.Exists(kubeconfig))
        {
            LogWaiting(logger, kubeconfig);
        }
        while (!File.Exists(kubeconfig))
        {
            if (time.GetUtcNow() + Poll > deadline)
            {
                throw new ClientCredentialsException($"Orchestrator:Kubeconfig {kubeconfig} does not exist (waited {options.ConnectTimeout.TotalSeconds:0.#} s). "
                    + "A silo writes its admin kubeconfig to <data directory>/admin.kubeconfig when its API starts.");
            }
            await Task.Delay(Poll, time, cancellationToken);
        }
        try
        {
            source.Set(ClientCredentials.FromKubeconfig(kubeconfig));
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or FormatException or System.Security.Cryptography.CryptographicException)
        {
            throw new ClientCredentialsException($"Orchestrator:Kubeconfig {kubeconfig} cannot be used: {ex.Message}", ex);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Waiting for the kubeconfig {Path} (Orchestrator:Kubeconfig) to appear")]
    private static partial void LogWaiting(ILogger logger, string path);
}

/// <summary>The client has no usable credentials; the message says what to set.</summary>
public sealed class ClientCredentialsException : Exception
{
    public ClientCredentialsException(string message)
        : base(message)
    {
    }

    public ClientCredentialsException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
