using Orchestrator.Client.Hosting;
using Orchestrator.Grains.Security;

namespace Orchestrator.Tests.Infrastructure;

/// <summary>
/// Client credentials of a CA made on the spot, which no control plane trusts: for clients that
/// must start but are never meant to get in (nothing answers, or the gateway must refuse them).
/// </summary>
public static class ForeignCredentials
{
    public static ClientCredentials Create(string user = "system:admin", string group = "system:masters", string? token = null)
    {
        var now = DateTimeOffset.UtcNow;
        using var ca = CertificateAuthority.Create("foreign-ca", now);
        var certificate = ca.IssueClient(user, [group], now);
        return new ClientCredentials(System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(ca.CertificatePem), certificate, token);
    }
}
