using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;

namespace Orchestrator.Silo.Hosting;

/// <summary>
/// <c>Orchestrator.Silo probe [PATH] [settings]</c>: a health check of the silo's own API over HTTPS, for
/// container images that have no HTTP client or TLS tool (the .NET runtime-deps images have
/// neither curl nor openssl, and bash's /dev/tcp speaks no TLS). It reads the admin kubeconfig the
/// silo wrote at start (found from the same settings as the silo's: Orchestrator:Security:Kubeconfig
/// or the data directory), sends GET PATH (default /readyz) to its server without credentials
/// (the health paths are anonymous), and trusts only the kubeconfig's CA, so a healthy answer also
/// means the API serves the cluster's certificate and the kubeconfig is there for users to copy.
/// Exit code 0 for 200, 1 otherwise, with the reason on stderr (docker inspect shows it).
/// </summary>
/// <remarks>
/// Runs before any of the silo's hosting is built and touches only configuration, a file and one
/// HTTPS request: a start of a few hundred milliseconds of CPU, cheap enough for a health check
/// every few seconds.
/// </remarks>
public static partial class Probe
{
    public static async Task<int> RunAsync(string[] args)
    {
        // probe [PATH] [--Orchestrator:...=VALUE ...]: settings as the silo takes them.
        var rest = args[1..];
        var path = "/readyz";
        if (rest is [var first, ..] && first.StartsWith('/'))
        {
            (path, rest) = (first, rest[1..]);
        }
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(rest)
            .Build();
        var settings = configuration.GetSection("Orchestrator").Get<SiloSettings>() ?? new SiloSettings();
        var kubeconfig = settings.Security.Kubeconfig is { Length: > 0 } k ? k : Path.Combine(Path.GetFullPath(settings.DataDirectory), "admin.kubeconfig");
        string server, caPem;
        try
        {
            var text = await File.ReadAllTextAsync(kubeconfig);
            server = ServerLine().Match(text).Groups[1].Value;
            caPem = Encoding.UTF8.GetString(Convert.FromBase64String(CaLine().Match(text).Groups[1].Value));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            await Console.Error.WriteLineAsync($"probe: cannot read the kubeconfig {kubeconfig} (the API has not started yet?): {ex.Message}");
            return 1;
        }
        using var ca = X509Certificate2.CreateFromPem(caPem);
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, errors) => IsServedBy(ca, certificate, errors) },
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync(server.TrimEnd('/') + path);
            if (response.IsSuccessStatusCode)
            {
                return 0;
            }
            await Console.Error.WriteLineAsync($"probe: GET {server}{path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            return 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            await Console.Error.WriteLineAsync($"probe: GET {server}{path} failed: {ex.Message}{(ex.InnerException is { } inner ? $" ({inner.Message})" : "")}");
            return 1;
        }
    }

    /// <summary>The certificate chains to the cluster CA and names the address (what kubectl
    /// checks); or, for a certificate of the user's own (Orchestrator:Security:CertificatePath),
    /// the system trusts it.</summary>
    private static bool IsServedBy(X509Certificate2 ca, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return false;
        }
        using var served = new X509Certificate2(certificate);
        return Grains.Security.CertificateAuthority.ChainsTo(ca, served);
    }

    [GeneratedRegex(@"^\s*server:\s*(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ServerLine();

    [GeneratedRegex(@"^\s*certificate-authority-data:\s*(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex CaLine();
}
