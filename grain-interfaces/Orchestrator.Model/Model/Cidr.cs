using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Orchestrator.Model;

/// <summary>An IPv4 network such as 10.96.0.0/12, with the arithmetic the allocators need.</summary>
public readonly record struct Cidr(uint Network, int PrefixLength)
{
    public ulong Size => 1UL << (32 - PrefixLength);

    public static bool TryParse(string? text, out Cidr cidr)
    {
        cidr = default;
        var slash = text?.IndexOf('/') ?? -1;
        if (slash < 0
            || !IPAddress.TryParse(text.AsSpan(0, slash), out var ip)
            || ip.AddressFamily != AddressFamily.InterNetwork
            || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var prefix)
            || prefix is < 0 or > 32)
        {
            return false;
        }
        var value = ToUInt(ip);
        var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        cidr = new Cidr(value & mask, prefix);
        return true;
    }

    public static Cidr Parse(string text) =>
        TryParse(text, out var c) ? c : throw new FormatException($"\"{text}\" is not an IPv4 CIDR such as 10.96.0.0/12");

    public bool Contains(IPAddress ip) =>
        ip.AddressFamily == AddressFamily.InterNetwork && (ToUInt(ip) & Mask) == Network;

    public bool Contains(string ip) => IPAddress.TryParse(ip, out var a) && Contains(a);

    public uint Mask => PrefixLength == 0 ? 0u : uint.MaxValue << (32 - PrefixLength);

    /// <summary>The address at <paramref name="offset"/> from the network address.</summary>
    public IPAddress At(ulong offset) => FromUInt(Network + (uint)offset);

    public ulong OffsetOf(IPAddress ip) => ToUInt(ip) - Network;

    /// <summary>The <paramref name="index"/>th subnet of length <paramref name="prefixLength"/>.</summary>
    public Cidr Subnet(int prefixLength, ulong index) => new(Network + (uint)(index << (32 - prefixLength)), prefixLength);

    public override string ToString() => $"{FromUInt(Network)}/{PrefixLength}";

    public static uint ToUInt(IPAddress ip)
    {
        Span<byte> bytes = stackalloc byte[4];
        ip.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    public static IPAddress FromUInt(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }
}
