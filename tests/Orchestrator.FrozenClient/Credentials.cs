using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using Orleans.Connections.Security;

namespace Orchestrator.FrozenClient;

/// <summary>
/// How any Orleans client gets into the control plane, written against Orleans alone (this
/// project references nothing of the repository): mutual TLS with the client certificate of a
/// kubeconfig, trusting only its CA, and its token in every call's RequestContext under
/// "orchestrator.token". The connection, not the frozen contract: a service of any age has to
/// present credentials now.
/// </summary>
internal sealed partial record Credentials(X509Certificate2 Ca, X509Certificate2 Certificate, string Token)
{
    public const string TokenKey = "orchestrator.token";

    /// <summary>The fields of a kubeconfig as the silo writes it (one user, data fields inline).</summary>
    public static Credentials FromKubeconfig(string path)
    {
        var text = File.ReadAllText(path);
        string Field(string name) => Regex.Match(text, $@"^\s*{Regex.Escape(name)}:\s*(\S+)\s*$", RegexOptions.Multiline) is { Success: true } m
            ? m.Groups[1].Value
            : throw new InvalidDataException($"{path} has no {name}");
        string Decoded(string name) => Encoding.UTF8.GetString(Convert.FromBase64String(Field(name)));
        using var pem = X509Certificate2.CreateFromPem(Decoded("client-certificate-data"), Decoded("client-key-data"));
        return new Credentials(
            X509Certificate2.CreateFromPem(Decoded("certificate-authority-data")),
            X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null),
            Field("token"));
    }

    public void ConfigureTls(TlsOptions options)
    {
        options.LocalCertificate = Certificate;
        options.RemoteCertificateValidation = (remote, _, _) =>
        {
            if (remote is null)
            {
                return false;
            }
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(Ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(remote);
        };
        options.OnAuthenticateAsClient = (_, ssl) => ssl.TargetHost = "system:silo";
    }
}

/// <summary>Puts the kubeconfig's token into every outgoing call.</summary>
internal sealed class TokenFilter(Credentials credentials) : IOutgoingGrainCallFilter
{
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        RequestContext.Set(Credentials.TokenKey, credentials.Token);
        await context.Invoke();
    }
}
