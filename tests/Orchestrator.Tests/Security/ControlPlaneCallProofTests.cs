using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using Orchestrator.Grains.Security;
using Orchestrator.NodeProtocol;

namespace Orchestrator.Tests.Security;

/// <summary>The proof a silo adds to calls to node agents, and the marker of its own calls.</summary>
public sealed class ControlPlaneCallProofTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly CertificateAuthority _ca = CertificateAuthority.Create("test-ca", Now.AddDays(-1));
    private readonly FakeTimeProvider _time = new(Now);

    public void Dispose() => _ca.Dispose();

    private ControlPlaneCallVerifier Verifier => new(_ca.Certificate, _time);

    [Fact]
    public void ASilosProofForThisEndpointIsAccepted()
    {
        using var silo = _ca.IssueSilo(Now);
        Assert.True(Verifier.Verify(ControlPlaneCallProof.Create(silo, "sys.client/agent+1", Now), "sys.client/agent+1"));
    }

    [Fact]
    public void AProofForAnotherEndpointOrExpiredOrTamperedIsRefused()
    {
        using var silo = _ca.IssueSilo(Now);
        var proof = ControlPlaneCallProof.Create(silo, "sys.client/agent+1", Now);
        Assert.False(Verifier.Verify(proof, "sys.client/agent+2"));
        var parts = proof.Split('.');
        Assert.False(Verifier.Verify($"{parts[0]}.{long.Parse(parts[1]) + 600}.{parts[2]}", "sys.client/agent+1"));
        Assert.False(Verifier.Verify(null, "sys.client/agent+1"));
        Assert.False(Verifier.Verify("garbage", "sys.client/agent+1"));
        Assert.False(Verifier.Verify("a.b.c", "sys.client/agent+1"));
        _time.Advance(ControlPlaneCallProof.Lifetime + ControlPlaneCallProof.ClockSkew + TimeSpan.FromSeconds(1));
        Assert.False(Verifier.Verify(proof, "sys.client/agent+1"));
    }

    [Fact]
    public void OnlySiloCertificatesOfTheClusterCaProve()
    {
        // A node's client certificate of the same CA is no silo's.
        using var node = _ca.IssueClient("system:node:a", ["system:nodes"], Now);
        Assert.False(Verifier.Verify(ControlPlaneCallProof.Create(node, "t", Now), "t"));
        // A silo certificate of another cluster's CA.
        using var otherCa = CertificateAuthority.Create("other-ca", Now.AddDays(-1));
        using var stranger = otherCa.IssueSilo(Now);
        Assert.False(Verifier.Verify(ControlPlaneCallProof.Create(stranger, "t", Now), "t"));
    }

    [Fact]
    public void TheInternalMarkerIsTheClustersAndNoOneElses()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var marker = new InternalCallMarker(new KeyCredentials(key));
        Assert.Equal(marker.Value, new InternalCallMarker(new KeyCredentials(key)).Value);
        Assert.NotEqual(marker.Value, new InternalCallMarker(new KeyCredentials(other)).Value);
        Assert.True(marker.Matches(marker.Value));
        Assert.False(marker.Matches(marker.Value[..^1]));
        Assert.False(marker.Matches(null));
        Assert.False(marker.Matches(42));
    }

    private sealed class KeyCredentials(ECDsa key) : IClusterCredentials
    {
        public string CaCertificatePem => "";

        public ECDsa ServiceAccountKey => key;

        public string Issuer => "test";
    }
}
