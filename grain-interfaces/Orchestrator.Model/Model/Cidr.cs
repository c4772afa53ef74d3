using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Orchestrator.Model;

/// <summary>An IPv4 network such as 10.96.0.0/12, parsed by <see cref="IPNetwork"/>, with the
/// arithmetic the allocators need.</summary>
public readonly record struct Cidr(uint Network, int PrefixLength)
{
    public ulong Size => 1UL << (32 - PrefixLength);

    public static bool TryParse(string? text, out Cidr cidr)
    {
        cidr = default;
        // IPNetwork clears the bits past the prefix (10.96.0.1/12 is 10.96.0.0/12), as
        // Kubernetes' net.ParseCIDR does; an IPv6 network is not one of ours.
        if (!IPNetwork.TryParse(text, out var network) || network.BaseAddress.AddressFamily != AddressFamily.InterNetwork)
        {
            return false;
        }
        cidr = new Cidr(ToUInt(network.BaseAddress), network.PrefixLength);
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
