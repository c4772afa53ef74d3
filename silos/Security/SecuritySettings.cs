namespace Orchestrator.Silo.Security;

/// <summary>TLS and credentials of the API ("Orchestrator:Security:*").</summary>
public sealed class SecuritySettings
{
    /// <summary>More names and addresses for the serving certificate (a load balancer's name, a
    /// public address), besides localhost, the host's names and addresses and the in-cluster names.</summary>
    public List<string> ServingCertificateSans { get; set; } = [];

    /// <summary>A certificate of your own to serve (PEM, with its chain), instead of one issued by
    /// the cluster CA. Clients then trust its issuer rather than the cluster CA.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The private key of <see cref="CertificatePath"/> (PEM), if not in the same file.</summary>
    public string? CertificateKeyPath { get; set; }

    /// <summary>Where the admin kubeconfig is written at start (mode 0600). Default
    /// "admin.kubeconfig" in the data directory.</summary>
    public string? Kubeconfig { get; set; }

    /// <summary>Authenticate and authorize every grain call a client makes through the gateway, as
    /// the API's requests are (default true). Read by the control plane as
    /// <c>GrainCallAuthorizationOptions</c>; turn off only for clients that send no token yet.</summary>
    public bool AuthorizeGrainCalls { get; set; } = true;

    /// <summary>Where the node bootstrap token (k3s format, K10&lt;CA hash&gt;::node:&lt;secret&gt;) is
    /// written at start (mode 0600), for node agents' Agent:TokenFile. Default "node-token" in the
    /// data directory.</summary>
    public string? NodeTokenFile { get; set; }

    /// <summary>How long the certificate and token a node agent gets from the node bootstrap last;
    /// agents renew when two thirds have passed. Default 30 days (NodeTokens.DefaultLifetime).</summary>
    public TimeSpan NodeCredentialLifetime { get; set; } = Grains.Security.NodeTokens.DefaultLifetime;
}
