namespace Orchestrator.Grains;

/// <summary>FNV-1a, the hash Kubernetes uses for pod-template-hash: stable across processes and
/// versions, unlike string.GetHashCode.</summary>
public static class Fnv
{
    public static uint Hash32(ReadOnlySpan<byte> data)
    {
        var hash = 2166136261u;
        foreach (var b in data)
        {
            hash ^= b;
            hash *= 16777619u;
        }
        return hash;
    }

    /// <summary>Kubernetes' rand.SafeEncodeString alphabet: no vowels (no words) and no
    /// look-alike characters, for names built from hashes.</summary>
    private const string SafeAlphabet = "bcdfghjklmnpqrstvwxz2456789";

    public static string SafeEncode(uint value)
    {
        Span<char> chars = stackalloc char[10];
        var n = 0;
        do
        {
            chars[n++] = SafeAlphabet[(int)(value % (uint)SafeAlphabet.Length)];
            value /= (uint)SafeAlphabet.Length;
        }
        while (value != 0);
        return new string(chars[..n]);
    }

    public static string RandomSuffix(int length = 5)
    {
        Span<char> chars = stackalloc char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = SafeAlphabet[Random.Shared.Next(SafeAlphabet.Length)];
        }
        return new string(chars);
    }
}
