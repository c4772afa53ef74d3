using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Orchestrator.Grains.Security;

/// <summary>
/// What tells a grain call made inside the control plane from a client's. Orleans' gateway
/// passes a client message's sending grain on unchecked, so the caller's id proves nothing;
/// instead every call a silo process makes carries this value in its RequestContext (see
/// <see cref="InternalCallStampFilter"/>). It is derived from the cluster's ServiceAccount
/// signing key, so every silo computes the same value and a client, which never holds that key,
/// cannot: HKDF-SHA256 of the private scalar with a fixed label (the value reveals nothing of
/// the key, and a leak of it could be undone by rotating the key).
/// </summary>
public sealed class InternalCallMarker
{
    /// <summary>The RequestContext key of the marker.</summary>
    public const string Key = "orchestrator.internal";

    private static readonly byte[] Label = "orchestrator/internal-grain-call/v1"u8.ToArray();

    public InternalCallMarker(IClusterCredentials credentials)
    {
        var scalar = credentials.ServiceAccountKey.ExportParameters(includePrivateParameters: true).D
            ?? throw new InvalidOperationException("the ServiceAccount key has no private part");
        try
        {
            Value = Convert.ToBase64String(HKDF.DeriveKey(HashAlgorithmName.SHA256, scalar, 32, salt: [], info: Label));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(scalar);
        }
    }

    /// <summary>The marker as silos send it.</summary>
    public string Value { get; }

    /// <summary>Whether <paramref name="value"/> (a RequestContext value of any type) is the marker;
    /// compared in constant time, without allocating.</summary>
    public bool Matches(object? value) =>
        value is string text && CryptographicOperations.FixedTimeEquals(MemoryMarshal.AsBytes(text.AsSpan()), MemoryMarshal.AsBytes(Value.AsSpan()));
}
