using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Orchestrator.Grains.Security;

namespace Orchestrator.Silo.Security;

/// <summary>
/// Writes the admin kubeconfig once the API listens, as k3s writes k3s.yaml: the API's address,
/// the cluster CA, the admin token and a client certificate of the CA for the same user
/// (CN=system:admin, O=system:masters, issued at each start), mode 0600. <c>kubectl --kubeconfig</c>
/// it, or <c>export KUBECONFIG=</c> it; .NET grain clients take it as Orchestrator:Kubeconfig (the
/// certificate opens the gateway's mutual TLS, the token goes with every grain call).
/// </summary>
public sealed partial class KubeconfigWriter(
    IServer server, IHostApplicationLifetime lifetime, ClusterCredentials credentials, TimeProvider time, string path, ILogger<KubeconfigWriter> logger) : IHostedService
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
        using var certificate = credentials.Ca.IssueClient(SystemUsers.Admin, [SystemGroups.Masters], time.GetUtcNow());
        using var key = certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("the admin certificate has no key");
        OwnerOnlyFile.Write(path, Render(api, credentials.CaCertificatePem, credentials.AdminToken, certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem()));
        LogWritten(logger, path, api);
    }

    public static string Render(string server, string caPem, string token, string certificatePem, string keyPem) => $"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: orchestrator
          cluster:
            server: {server}
            certificate-authority-data: {Base64(caPem)}
        users:
        - name: admin
          user:
            token: {token}
            client-certificate-data: {Base64(certificatePem)}
            client-key-data: {Base64(keyPem)}
        contexts:
        - name: orchestrator
          context:
            cluster: orchestrator
            user: admin
            namespace: default
        current-context: orchestrator

        """;

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    [LoggerMessage(Level = LogLevel.Information, Message = "Wrote the admin kubeconfig to {Path} (API {Server})")]
    private static partial void LogWritten(ILogger logger, string path, string server);
}

/// <summary>Writes a file readable by its owner only (0600), replacing it atomically.</summary>
internal static class OwnerOnlyFile
{
    public static void Write(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var file = new FileStream(temporary, options))
        {
            file.Write(Encoding.UTF8.GetBytes(content));
        }
        File.Move(temporary, path, overwrite: true);
    }
}
