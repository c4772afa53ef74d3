using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Orchestrator.Grains.Security;
using Orchestrator.Model;

namespace Orchestrator.Tests.Security;

/// <summary>Issuing ServiceAccount tokens and authenticating with them, without a cluster.</summary>
public sealed class ServiceAccountTokenTests
{
    private const string Issuer = "https://kubernetes.default.svc.cluster.local";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly TestCredentials _credentials = new();
    private readonly Objects _objects = new();
    private readonly ServiceAccount _sa = new() { Metadata = new ObjectMeta { Name = "builder", Namespace = "ci", Uid = "sa-uid-1" } };
    private readonly Pod _pod = new()
    {
        Metadata = new ObjectMeta { Name = "job-1", Namespace = "ci", Uid = "pod-uid-1" },
        Status = new PodStatus { Phase = PodPhase.Running },
    };

    public ServiceAccountTokenTests()
    {
        _objects.Accounts["ci/builder"] = _sa;
        _objects.Pods["ci/job-1"] = _pod;
    }

    private ServiceAccountTokens Tokens(IClusterCredentials? credentials = null) => new(credentials ?? _credentials, _time);

    private ServiceAccountTokenAuthenticator Authenticator => new(_credentials, _objects, _time);

    [Fact]
    public async Task ABoundTokenCarriesKubernetesClaimsAndAuthenticatesAsTheServiceAccount()
    {
        var issued = Tokens().Issue(_sa, null, TimeSpan.FromHours(1), new BoundObject("job-1", "pod-uid-1"), new BoundObject("worker-1", "node-uid"));
        Assert.Equal(_time.GetUtcNow().AddHours(1), issued.ExpirationTimestamp);

        var parts = issued.Token.Split('.');
        using var header = JsonDocument.Parse(Decode(parts[0]));
        Assert.Equal("ES256", header.RootElement.GetProperty("alg").GetString());
        Assert.False(string.IsNullOrEmpty(header.RootElement.GetProperty("kid").GetString()));
        using var payload = JsonDocument.Parse(Decode(parts[1]));
        var claims = payload.RootElement;
        Assert.Equal(Issuer, claims.GetProperty("iss").GetString());
        Assert.Equal("system:serviceaccount:ci:builder", claims.GetProperty("sub").GetString());
        Assert.Equal([Issuer], claims.GetProperty("aud").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(_time.GetUtcNow().ToUnixTimeSeconds(), claims.GetProperty("iat").GetInt64());
        Assert.Equal(_time.GetUtcNow().ToUnixTimeSeconds(), claims.GetProperty("nbf").GetInt64());
        Assert.Equal(_time.GetUtcNow().AddHours(1).ToUnixTimeSeconds(), claims.GetProperty("exp").GetInt64());
        var k8s = claims.GetProperty("kubernetes.io");
        Assert.Equal("ci", k8s.GetProperty("namespace").GetString());
        Assert.Equal("sa-uid-1", k8s.GetProperty("serviceaccount").GetProperty("uid").GetString());
        Assert.Equal("job-1", k8s.GetProperty("pod").GetProperty("name").GetString());
        Assert.Equal("worker-1", k8s.GetProperty("node").GetProperty("name").GetString());

        var user = await Authenticator.AuthenticateAsync(issued.Token, default);
        Assert.NotNull(user);
        Assert.Equal("system:serviceaccount:ci:builder", user.Name);
        Assert.Equal("sa-uid-1", user.Uid);
        Assert.Equal(["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"], user.Groups);
        Assert.Equal(["job-1"], user.Extra["authentication.kubernetes.io/pod-name"]);
        Assert.Equal(["pod-uid-1"], user.Extra["authentication.kubernetes.io/pod-uid"]);
        Assert.Equal(["JTI=" + claims.GetProperty("jti").GetString()], user.Extra["authentication.kubernetes.io/credential-id"]);
    }

    [Fact]
    public async Task TokensThatAreNotOursAreLeftToOtherAuthenticators()
    {
        Assert.Null(await Authenticator.AuthenticateAsync("not-a-jwt", default));
        Assert.Null(await Authenticator.AuthenticateAsync("abc.def", default));
        var foreign = new TestCredentials("https://someone.else");
        Assert.Null(await Authenticator.AuthenticateAsync(Tokens(foreign).Issue(_sa, null, TimeSpan.FromHours(1)).Token, default));
    }

    [Fact]
    public async Task AnExpiredTokenIsRefusedAfterAMinuteOfLeeway()
    {
        var token = Tokens().Issue(_sa, null, TimeSpan.FromMinutes(10)).Token;
        _time.Advance(TimeSpan.FromMinutes(10.5));
        Assert.NotNull(await Authenticator.AuthenticateAsync(token, default));
        _time.Advance(TimeSpan.FromMinutes(1));
        var ex = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => Authenticator.AuthenticateAsync(token, default).AsTask());
        Assert.Equal("service account token has expired", ex.Message);
    }

    [Fact]
    public async Task ATokenForAnotherAudienceIsRefused()
    {
        var token = Tokens().Issue(_sa, ["vault"], TimeSpan.FromHours(1)).Token;
        var ex = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => Authenticator.AuthenticateAsync(token, default).AsTask());
        Assert.Contains("vault", ex.Message);
        // One of several audiences is enough.
        Assert.NotNull(await Authenticator.AuthenticateAsync(Tokens().Issue(_sa, ["vault", Issuer], TimeSpan.FromHours(1)).Token, default));
    }

    [Fact]
    public async Task ATokenSignedWithAnotherKeyIsRefused()
    {
        var impostor = new TestCredentials(Issuer);
        var token = Tokens(impostor).Issue(_sa, null, TimeSpan.FromHours(1)).Token;
        var ex = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => Authenticator.AuthenticateAsync(token, default).AsTask());
        Assert.Equal("invalid service account token signature", ex.Message);
    }

    [Fact]
    public async Task ATokenDiesWithItsServiceAccount()
    {
        var token = Tokens().Issue(_sa, null, TimeSpan.FromHours(1)).Token;
        _objects.Accounts["ci/builder"] = _sa with { Metadata = _sa.Metadata with { Uid = "sa-uid-2" } };
        var replaced = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => Authenticator.AuthenticateAsync(token, default).AsTask());
        Assert.Equal("service account UID (sa-uid-2) does not match claim (sa-uid-1)", replaced.Message);
        _objects.Accounts.Clear();
        var gone = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => Authenticator.AuthenticateAsync(token, default).AsTask());
        Assert.Equal("service account ci/builder has been deleted", gone.Message);
    }

    [Fact]
    public async Task APodBoundTokenDiesWithItsPod()
    {
        var token = Tokens().Issue(_sa, null, TimeSpan.FromHours(1), new BoundObject("job-1", "pod-uid-1")).Token;
        _objects.Pods["ci/job-1"] = _pod with { Status = _pod.Status! with { Phase = PodPhase.Succeeded } };
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => Authenticator.AuthenticateAsync(token, default).AsTask());
        _objects.Pods["ci/job-1"] = _pod with { Metadata = _pod.Metadata with { Uid = "pod-uid-2" } };
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => Authenticator.AuthenticateAsync(token, default).AsTask());
        _objects.Pods.Clear();
        var gone = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => Authenticator.AuthenticateAsync(token, default).AsTask());
        Assert.Equal("pod ci/job-1 has been deleted", gone.Message);
    }

    private static byte[] Decode(string part) => Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(part);

    private sealed class Objects : ITokenObjectLookup
    {
        public Dictionary<string, ServiceAccount> Accounts { get; } = [];

        public Dictionary<string, Pod> Pods { get; } = [];

        public Task<ServiceAccount?> ServiceAccountAsync(string ns, string name) => Task.FromResult(Accounts.GetValueOrDefault($"{ns}/{name}"));

        public Task<Pod?> PodAsync(string ns, string name) => Task.FromResult(Pods.GetValueOrDefault($"{ns}/{name}"));
    }
}

/// <summary>Cluster credentials made up for a test: a P-256 key and a self-signed CA.</summary>
internal sealed class TestCredentials : IClusterCredentials
{
    public TestCredentials(string issuer = "https://kubernetes.default.svc.cluster.local")
    {
        Issuer = issuer;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=test-ca", caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        CaCertificatePem = cert.ExportCertificatePem();
    }

    public string CaCertificatePem { get; }

    public ECDsa ServiceAccountKey { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public string Issuer { get; }
}
