using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Orchestrator.Grains.Security;

namespace Orchestrator.Silo.Security;

/// <summary>
/// Writes the admin kubeconfig once the API listens, as k3s writes k3s.yaml: the API's address,
/// the cluster CA, and the admin token (user system:admin in group system:masters), mode 0600.
/// <c>kubectl --kubeconfig</c> it, or <c>export KUBECONFIG=</c> it.
/// </summary>
public sealed partial class KubeconfigWriter(
    IServer server, IHostApplicationLifetime lifetime, ClusterCredentials credentials, string path, ILogger<KubeconfigWriter> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(Write);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Write()
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault(a => a.StartsWith("https://", StringComparison.Ordinal));
        if (address is null)
        {
            return;
        }
        var uri = new UriBuilder(address);
        if (uri.Host is "0.0.0.0" or "[::]" or "::" or "+" or "*")
        {
            uri.Host = "127.0.0.1";
        }
        var api = uri.Uri.GetLeftPart(UriPartial.Authority);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var file = new FileStream(temporary, options))
        {
            file.Write(Encoding.UTF8.GetBytes(Render(api, credentials.CaCertificatePem, credentials.AdminToken)));
        }
        File.Move(temporary, path, overwrite: true);
        LogWritten(logger, path, api);
    }

    public static string Render(string server, string caPem, string token) => $"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: orchestrator
          cluster:
            server: {server}
            certificate-authority-data: {Convert.ToBase64String(Encoding.UTF8.GetBytes(caPem))}
        users:
        - name: admin
          user:
            token: {token}
        contexts:
        - name: orchestrator
          context:
            cluster: orchestrator
            user: admin
            namespace: default
        current-context: orchestrator

        """;

    [LoggerMessage(Level = LogLevel.Information, Message = "Wrote the admin kubeconfig to {Path} (API {Server})")]
    private static partial void LogWritten(ILogger logger, string path, string server);
}
