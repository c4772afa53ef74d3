using System.Security.Cryptography;
using System.Text;
using Orchestrator.Grains.Security;
using Orchestrator.NodeProtocol;

namespace Orchestrator.Silo.Security;

/// <summary>
/// The node bootstrap token as a credential of the HTTP API: it names the user
/// <see cref="User"/> in the group <see cref="Group"/> (Kubernetes' bootstrap token users), which
/// may request node credentials and nothing else (<see cref="NodeCredentialsApi"/>). Checked by the
/// API's own authentication, not registered as an <see cref="ITokenAuthenticator"/>, so that no
/// grain call can ever be made with it.
/// </summary>
public static class NodeBootstrap
{
    public const string User = "system:bootstrap:node";

    public const string Group = "system:bootstrappers";

    /// <summary>The bootstrap user, if <paramref name="token"/> is the node bootstrap token (the full
    /// K10 form or its "node:&lt;secret&gt;" part); else null.</summary>
    public static UserInfo? Authenticate(string token, ClusterCredentials credentials)
    {
        var presented = NodeJoinToken.Parse(token).Credential;
        var expected = $"{NodeJoinToken.User}:{credentials.NodeBootstrapSecret}";
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected))
            ? new UserInfo { Name = User, Groups = [Group] }
            : null;
    }

    /// <summary>The token as agents take it: pinned to this cluster's CA.</summary>
    public static string Token(ClusterCredentials credentials) => NodeJoinToken.Format(credentials.CaCertificatePem, credentials.NodeBootstrapSecret);
}

/// <summary>Writes the node bootstrap token to its file (mode 0600) at start, as k3s writes
/// /var/lib/rancher/k3s/server/node-token: what an operator copies to a new worker.</summary>
public sealed partial class NodeTokenFileWriter(ClusterCredentials credentials, string path, ILogger<NodeTokenFileWriter> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        OwnerOnlyFile.Write(path, NodeBootstrap.Token(credentials) + "\n");
        LogWritten(logger, path);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Wrote the node bootstrap token to {Path} (node agents: Agent:TokenFile)")]
    private static partial void LogWritten(ILogger logger, string path);
}
