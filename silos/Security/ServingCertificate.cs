using System.Net;
using System.Net.NetworkInformation;
using System.Security.Cryptography.X509Certificates;
using Orchestrator.Grains.Security;

namespace Orchestrator.Silo.Security;

/// <summary>
/// The API's TLS certificate. By default issued by the cluster CA at start, for every name and
/// address a client may use to reach this silo (localhost, the host's names and addresses, the
/// in-cluster names of the API and the configured extras), and issued again a month before it
/// expires, while the silo runs; Kestrel picks the current one on every handshake. A user-supplied
/// certificate (<see cref="SecuritySettings.CertificatePath"/>) is served as given instead.
/// </summary>
public sealed partial class ServingCertificate : BackgroundService
{
    private readonly CertificateAuthority? _ca;
    private readonly IReadOnlyList<string> _extraNames;
    private readonly TimeProvider _time;
    private readonly ILogger<ServingCertificate> _logger;
    private volatile X509Certificate2 _current;

    public ServingCertificate(ClusterCredentials credentials, SecuritySettings settings, TimeProvider time, ILogger<ServingCertificate> logger)
    {
        _time = time;
        _logger = logger;
        _extraNames = settings.ServingCertificateSans;
        if (settings.CertificatePath is { Length: > 0 } path)
        {
            _current = X509Certificate2.CreateFromPemFile(path, settings.CertificateKeyPath);
            // SslStream on Linux wants a key it can export; PEM-loaded keys are ephemeral.
            _current = X509CertificateLoader.LoadPkcs12(_current.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable);
            return;
        }
        _ca = credentials.Ca;
        _current = Issue();
    }

    public X509Certificate2 Current => _current;

    /// <summary>In-cluster names of the API, as Kubernetes puts them on its serving certificate.</summary>
    public static readonly string[] ClusterNames = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"];

    private X509Certificate2 Issue()
    {
        var names = new List<string> { "localhost", Dns.GetHostName() };
        names.AddRange(ClusterNames);
        var addresses = new List<IPAddress> { IPAddress.Loopback, IPAddress.IPv6Loopback };
        try
        {
            addresses.AddRange(NetworkInterface.GetAllNetworkInterfaces()
                .Where(n => n.OperationalStatus == OperationalStatus.Up)
                .SelectMany(n => n.GetIPProperties().UnicastAddresses)
                .Select(a => a.Address)
                .Where(a => !a.IsIPv6LinkLocal));
        }
        catch (NetworkInformationException)
        {
            // No interface list (a minimal container): loopback and the configured names remain.
        }
        foreach (var extra in _extraNames)
        {
            if (IPAddress.TryParse(extra, out var address))
            {
                addresses.Add(address);
            }
            else
            {
                names.Add(extra);
            }
        }
        return _ca!.IssueServing(names[1], names, addresses, _time.GetUtcNow());
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_ca is null)
        {
            return;
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            var renewAt = _current.NotAfter.ToUniversalTime() - CertificateAuthority.RenewBefore;
            var wait = renewAt - _time.GetUtcNow().UtcDateTime;
            // Look again at least daily: a clock that jumped is noticed within a day.
            await Task.Delay(wait <= TimeSpan.Zero ? TimeSpan.Zero : wait < TimeSpan.FromDays(1) ? wait : TimeSpan.FromDays(1), _time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!stoppingToken.IsCancellationRequested && _time.GetUtcNow().UtcDateTime >= renewAt)
            {
                _current = Issue();
                LogRenewed(_logger, _current.NotAfter);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Issued a new serving certificate for the API, valid until {NotAfter:u}")]
    private static partial void LogRenewed(ILogger logger, DateTime notAfter);
}
