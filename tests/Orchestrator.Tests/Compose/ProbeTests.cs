using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Compose;

/// <summary>
/// <c>Orchestrator.Silo probe</c>, the health check of the silo image and of docker-compose.yml
/// (the image has no HTTP client or TLS tool): healthy only when the silo's API answers the path
/// with 200 over HTTPS with a certificate of the CA in the kubeconfig the silo wrote.
/// </summary>
public sealed class ProbeTests
{
    [Fact]
    public async Task TheProbeIsHealthyOnlyWhenTheApiAnswersOverTlsWithTheKubeconfigsCa()
    {
        using var data = new TempDirectory("orch-probe");
        var dataSetting = $"--Orchestrator:DataDirectory={data.Path}";
        var (exit, log) = await ProbeAsync(data.Path, "probe", dataSetting);
        Assert.True(exit == 1, $"before the silo started: exit {exit}\n{log}");
        Assert.Contains("cannot read the kubeconfig", log, StringComparison.Ordinal);

        await using var silo = new EmbeddedSiloProcess(data.Path);
        await silo.StartAsync();
        foreach (var path in new[] { "/readyz", "/healthz" })
        {
            (exit, log) = await ProbeAsync(data.Path, "probe", path, dataSetting);
            Assert.True(exit == 0, $"probe {path}: exit {exit}\n{log}");
        }
        // The probe sends no credential: only the anonymous paths are healthy.
        (exit, log) = await ProbeAsync(data.Path, "probe", "/api/v1/namespaces", dataSetting);
        Assert.True(exit == 1, $"probe of a path that wants a credential: exit {exit}\n{log}");
        Assert.Contains("401", log, StringComparison.Ordinal);

        // A kubeconfig with another CA: the silo's certificate is not trusted.
        var text = await File.ReadAllTextAsync(silo.KubeconfigPath);
        var original = Kubeconfig.Read(silo.KubeconfigPath);
        var other = Path.Combine(data.Path, "other.kubeconfig");
        await File.WriteAllTextAsync(other, text.Replace(Convert.ToBase64String(Encoding.UTF8.GetBytes(original.CaPem)), Convert.ToBase64String(Encoding.UTF8.GetBytes(OtherCaPem())), StringComparison.Ordinal));
        (exit, log) = await ProbeAsync(data.Path, "probe", $"--Orchestrator:Security:Kubeconfig={other}");
        Assert.True(exit == 1, $"probe trusting another CA: exit {exit}\n{log}");
    }

    private static async Task<(int Exit, string Log)> ProbeAsync(string directory, params string[] arguments)
    {
        await using var probe = ChildProcess.Start("dotnet", [Repository.SiloDll, .. arguments], Path.Combine(directory, $"probe-{Guid.NewGuid():N}.log"));
        await probe.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (probe.ExitCode, probe.Tail());
    }

    private static string OtherCaPem()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=another-ca", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return ca.ExportCertificatePem();
    }
}
