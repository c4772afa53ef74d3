using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.NodeProtocol;

namespace Orchestrator.NodeAgent;

/// <summary>What a node tells the control plane about itself when it registers.</summary>
public static class NodeIdentity
{
    public const string AgentVersion = "v1.32.0-orchestrator";

    public static NodeRegistration Describe(string nodeName, NodeAgentOptions options, string runtimeVersion)
    {
        var cpu = options.Cpu ?? Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var memory = options.Memory is { } m ? new Quantity(m) : Quantity.FromBytes(MemoryBytes());
        var capacity = new Dictionary<string, Quantity>
        {
            [ResourceName.Cpu] = new Quantity(cpu),
            [ResourceName.Memory] = memory,
            [ResourceName.Pods] = Quantity.FromCount(options.MaxPods),
        };
        var address = options.NodeIP ?? FirstIPv4() ?? "127.0.0.1";
        return new NodeRegistration
        {
            Name = nodeName,
            Labels = options.Labels.Count > 0 ? options.Labels : null,
            Taints = options.Taints.Select(t => TryParseTaint(t, out var taint) ? taint : null).OfType<Taint>().ToList(),
            Capacity = capacity,
            Allocatable = capacity,
            Addresses = [new NodeAddress { Type = "InternalIP", Address = address }, new NodeAddress { Type = "Hostname", Address = nodeName }],
            NodeInfo = new NodeSystemInfo
            {
                MachineID = ReadTrimmed("/etc/machine-id"),
                BootID = ReadTrimmed("/proc/sys/kernel/random/boot_id"),
                KernelVersion = ReadTrimmed("/proc/sys/kernel/osrelease") ?? Environment.OSVersion.Version.ToString(),
                OsImage = OsImage(),
                ContainerRuntimeVersion = runtimeVersion,
                KubeletVersion = AgentVersion,
                KubeProxyVersion = AgentVersion,
                OperatingSystem = "linux",
                Architecture = RuntimeInformation.OSArchitecture switch
                {
                    Architecture.X64 => "amd64",
                    Architecture.Arm64 => "arm64",
                    var other => other.ToString().ToLowerInvariant(),
                },
            },
        };
    }

    public static bool TryParseTaint(string text, out Taint taint)
    {
        taint = new Taint();
        var colon = text.LastIndexOf(':');
        if (colon <= 0)
        {
            return false;
        }
        var effect = text[(colon + 1)..];
        if (effect is not (TaintEffect.NoSchedule or TaintEffect.PreferNoSchedule or TaintEffect.NoExecute))
        {
            return false;
        }
        var kv = text[..colon];
        var eq = kv.IndexOf('=');
        taint = new Taint { Key = eq < 0 ? kv : kv[..eq], Value = eq < 0 ? null : kv[(eq + 1)..], Effect = effect };
        return taint.Key.Length > 0;
    }

    private static long MemoryBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                {
                    var kb = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
                    return kb * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    private static string? FirstIPv4()
    {
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
            {
                continue;
            }
            foreach (var a in nic.GetIPProperties().UnicastAddresses)
            {
                if (a.Address.AddressFamily == AddressFamily.InterNetwork)
                {
                    return a.Address.ToString();
                }
            }
        }
        return null;
    }

    private static string? OsImage()
    {
        try
        {
            foreach (var line in File.ReadLines("/etc/os-release"))
            {
                if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))
                {
                    return line["PRETTY_NAME=".Length..].Trim('"');
                }
            }
        }
        catch (IOException)
        {
        }
        return RuntimeInformation.OSDescription;
    }

    private static string? ReadTrimmed(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
