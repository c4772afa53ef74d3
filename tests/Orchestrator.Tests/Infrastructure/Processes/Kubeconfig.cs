using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;

namespace Orchestrator.Tests.Infrastructure.Processes;

/// <summary>
/// The admin kubeconfig a silo writes when its API starts listening: the API's address, the
/// cluster CA and the admin token. Tests and benchmarks reach the API with it as kubectl does,
/// over HTTPS that trusts only that CA.
/// </summary>
public sealed partial record Kubeconfig(string Server, string CaPem, string Token)
{
    public static Kubeconfig Read(string path)
    {
        var text = File.ReadAllText(path);
        string Field(Regex pattern) => pattern.Match(text) is { Success: true } m ? m.Groups[1].Value.Trim() : throw new InvalidDataException($"{path} has no {pattern}");
        return new Kubeconfig(Field(ServerLine()), Encoding.UTF8.GetString(Convert.FromBase64String(Field(CaLine()))), Field(TokenLine()));
    }

    /// <summary>An HTTP client of the API as the admin of the kubeconfig at <paramref name="path"/>,
    /// which may not exist yet: it is read at the first request that finds it (until then,
    /// requests fail with <see cref="HttpRequestException"/>, as if the API were not up).</summary>
    public static HttpClient AdminClient(string baseAddress, string path, TimeSpan timeout, int maxConnections = int.MaxValue) =>
        new(new AdminHandler(path, maxConnections)) { BaseAddress = new Uri(baseAddress), Timeout = timeout };

    /// <summary>An HTTP client that trusts the CA of the kubeconfig at <paramref name="path"/> and
    /// sends no credential (an anonymous user, or one the test adds itself).</summary>
    public static HttpClient AnonymousClient(string baseAddress, string path, TimeSpan timeout) =>
        new(new AdminHandler(path, int.MaxValue, sendToken: false)) { BaseAddress = new Uri(baseAddress), Timeout = timeout };

    /// <summary>Whether <paramref name="certificate"/> chains to the CA in <paramref name="caPem"/>
    /// and names the host (what kubectl checks).</summary>
    public static bool IsServedBy(string caPem, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }
        using var ca = X509Certificate2.CreateFromPem(caPem);
        using var served = new X509Certificate2(certificate);
        return Orchestrator.Grains.Security.CertificateAuthority.ChainsTo(ca, served);
    }

    [GeneratedRegex(@"^\s*server:\s*(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ServerLine();

    [GeneratedRegex(@"^\s*certificate-authority-data:\s*(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex CaLine();

    [GeneratedRegex(@"^\s*token:\s*(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex TokenLine();

    private sealed class AdminHandler : DelegatingHandler
    {
        private readonly string _path;
        private readonly bool _sendToken;
        private volatile Kubeconfig? _config;

        public AdminHandler(string path, int maxConnections, bool sendToken = true)
        {
            _path = path;
            _sendToken = sendToken;
            InnerHandler = new SocketsHttpHandler
            {
                UseProxy = false,
                MaxConnectionsPerServer = maxConnections,
                SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, errors) => _config is { } c && IsServedBy(c.CaPem, certificate, errors) },
            };
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var config = _config;
            if (config is null)
            {
                if (!File.Exists(_path))
                {
                    throw new HttpRequestException($"{_path} does not exist yet: the silo has not started its API");
                }
                _config = config = Read(_path);
            }
            if (_sendToken && request.Headers.Authorization is null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", config.Token);
            }
            return base.SendAsync(request, cancellationToken);
        }
    }
}

/// <summary>How a node agent process joins a control plane: the API it asks for its credentials
/// (Agent:Server) and the node bootstrap token file a silo wrote (Agent:TokenFile).</summary>
public sealed record AgentJoin(string Server, string TokenFile)
{
    public IEnumerable<string> Arguments => [$"--Agent:Server={Server}", $"--Agent:TokenFile={TokenFile}"];
}
