using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Orchestrator.Model;

namespace Orchestrator.NodeAgent.Runtime.Containerd;

/// <summary>
/// Pod sandboxes without a pause container: a network namespace per pod, bind-mounted under
/// <see cref="NodeAgentOptions.NetnsDirectory"/>, wired by executing the standard CNI plugins
/// (loopback, then bridge with host-local IPAM over the node's pod CIDR) the way a CNI runtime
/// does: CNI_* variables in the environment, the network configuration on stdin. Each sandbox is
/// recorded in a JSON file with its pod's identity, address and the exact configuration it was
/// added with, which is what CNI DEL needs after an agent restart.
/// </summary>
internal sealed partial class PodNetwork(NodeAgentOptions options, ILogger logger)
{
    private const string NetworkName = "orchestrator";
    private const string PodInterface = "eth0";

    private static readonly JsonSerializerOptions RecordJson = new() { WriteIndented = true };

    private readonly string _netnsDirectory = options.NetnsDirectory;
    private readonly string _recordDirectory = Path.Combine(options.DataDirectory, "sandboxes");
    private readonly string _ipamDirectory = Path.Combine(options.DataDirectory, "cni", "networks");
    private readonly string _pluginDirectory = options.CniPluginDirectory;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);
    private string? _podCidr;

    public string? PodCidr => _podCidr;

    public void Configure(string? podCidr) => _podCidr = Cidr.TryParse(podCidr, out var c) ? c.ToString() : null;

    public string NetnsPath(string podUid) => Path.Combine(_netnsDirectory, podUid);

    /// <summary>The pod's sandbox, made if it does not exist; making one waits for
    /// <paramref name="startGate"/> (the runtime's limit on concurrent starts).</summary>
    public async Task<Sandbox> EnsureAsync(Pod pod, SemaphoreSlim startGate, CancellationToken cancellationToken)
    {
        var uid = pod.Metadata.Uid!;
        var gate = _locks.GetOrAdd(uid, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (Read(uid) is { } existing && Mounts.IsMountPoint(existing.Netns))
            {
                return existing.ToSandbox();
            }
            // Nothing, or a half-made sandbox (an agent killed mid-way, or /run emptied by a
            // reboot): take down what is left and make it afresh.
            await TearDownAsync(uid, cancellationToken);
            if (_podCidr is null)
            {
                throw new RuntimeException("NetworkNotReady", "the node has no pod CIDR yet, so pods cannot get addresses");
            }
            SandboxRecord record;
            await startGate.WaitAsync(cancellationToken);
            try
            {
                record = await CreateAsync(pod, _podCidr, cancellationToken);
            }
            finally
            {
                startGate.Release();
            }
            LogSandboxCreated(logger, pod.Key(), uid, record.Ip);
            return record.ToSandbox();
        }
        finally
        {
            gate.Release();
        }
    }

    public async Task RemoveAsync(string podUid, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(podUid, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            await TearDownAsync(podUid, cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Every sandbox on record, and namespaces left without a record (an agent that died
    /// half-way through making one), so that the agent's orphan sweep removes those too.</summary>
    public IReadOnlyList<Sandbox> List()
    {
        var sandboxes = new Dictionary<string, Sandbox>(StringComparer.Ordinal);
        if (Directory.Exists(_recordDirectory))
        {
            foreach (var file in Directory.EnumerateFiles(_recordDirectory, "*.json"))
            {
                if (Read(Path.GetFileNameWithoutExtension(file)) is { } record)
                {
                    sandboxes[record.PodUid] = record.ToSandbox();
                }
            }
        }
        if (Directory.Exists(_netnsDirectory))
        {
            foreach (var file in Directory.EnumerateFiles(_netnsDirectory))
            {
                var uid = Path.GetFileName(file);
                sandboxes.TryAdd(uid, new Sandbox(uid, "", file, null));
            }
        }
        return sandboxes.Values.ToList();
    }

    private async Task<SandboxRecord> CreateAsync(Pod pod, string podCidr, CancellationToken cancellationToken)
    {
        var uid = pod.Metadata.Uid!;
        var netns = NetnsPath(uid);
        Directory.CreateDirectory(_netnsDirectory);
        Directory.CreateDirectory(_recordDirectory);
        Directory.CreateDirectory(_ipamDirectory);
        var config = BridgeConfig(podCidr);
        // The record goes first so that a crash at any later point leaves enough to undo.
        var record = new SandboxRecord
        {
            PodUid = uid,
            PodNamespace = pod.Metadata.Namespace ?? "",
            PodName = pod.Metadata.Name ?? "",
            Netns = netns,
            Network = config,
            Labels = new Dictionary<string, string>
            {
                [ContainerLabels.PodUid] = uid,
                [ContainerLabels.PodNamespace] = pod.Metadata.Namespace ?? "",
                [ContainerLabels.PodName] = pod.Metadata.Name ?? "",
            },
        };
        Write(record);
        try
        {
            await File.WriteAllBytesAsync(netns, [], cancellationToken);
            // unshare(1) creates the namespace and bind-mounts it onto the file, as `ip netns add`
            // does for /run/netns; it works for any directory, which lets agents sharing a machine
            // keep their namespaces apart.
            var made = await Tool.RunAsync("unshare", [$"--net={netns}", "true"], cancellationToken);
            if (!made.Succeeded)
            {
                throw new RuntimeException("CreatePodSandboxError", $"creating network namespace {netns}: {made.ErrorMessage}");
            }
            await CniAsync("ADD", "loopback", uid, netns, "lo", LoopbackConfig, cancellationToken);
            var result = await CniAsync("ADD", "bridge", uid, netns, PodInterface, config, cancellationToken);
            var ip = JsonNode.Parse(result)?["ips"]?.AsArray().Select(i => i?["address"]?.GetValue<string>()).FirstOrDefault(a => a is not null)
                ?? throw new RuntimeException("CreatePodSandboxError", $"the bridge plugin returned no address: {result}");
            record = record with { Ip = ip.Split('/')[0] };
            Write(record);
            return record;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await TearDownAsync(uid, CancellationToken.None);
            throw ex as RuntimeException ?? new RuntimeException("CreatePodSandboxError", ex.Message, ex);
        }
    }

    /// <summary>CNI DEL, then the namespace and the record; each step tolerates what is already
    /// gone, so it can finish a teardown that was interrupted.</summary>
    private async Task TearDownAsync(string uid, CancellationToken cancellationToken)
    {
        var record = Read(uid);
        var netns = record?.Netns ?? NetnsPath(uid);
        var hasNetns = File.Exists(netns);
        if (record is not null || hasNetns)
        {
            var config = record?.Network ?? (_podCidr is { } cidr ? BridgeConfig(cidr) : null);
            if (config is not null)
            {
                try
                {
                    // DEL with a namespace that is gone is still required to release the address.
                    await CniAsync("DEL", "bridge", uid, Mounts.IsMountPoint(netns) ? netns : "", PodInterface, config, cancellationToken);
                }
                catch (RuntimeException ex)
                {
                    LogCniDelFailed(logger, uid, ex.Message);
                }
            }
        }
        if (hasNetns)
        {
            await Mounts.UnmountAsync(netns, cancellationToken);
            File.Delete(netns);
        }
        if (record is not null)
        {
            File.Delete(RecordPath(uid));
            LogSandboxRemoved(logger, uid);
        }
    }

    private async Task<string> CniAsync(string command, string plugin, string containerId, string netns, string ifName, string config, CancellationToken cancellationToken)
    {
        var environment = new Dictionary<string, string?>
        {
            ["CNI_COMMAND"] = command,
            ["CNI_CONTAINERID"] = containerId,
            ["CNI_NETNS"] = netns,
            ["CNI_IFNAME"] = ifName,
            ["CNI_PATH"] = _pluginDirectory,
        };
        var result = await Tool.RunAsync(Path.Combine(_pluginDirectory, plugin), [], cancellationToken, config, environment);
        if (!result.Succeeded)
        {
            // CNI plugins report errors as JSON on stdout: {"code":..., "msg":..., "details":...}.
            string? message = null;
            try
            {
                var error = JsonNode.Parse(result.StandardOutput);
                message = $"{error?["msg"]?.GetValue<string>()} {error?["details"]?.GetValue<string>()}".Trim();
            }
            catch (JsonException)
            {
            }
            throw new RuntimeException("CreatePodSandboxError", $"CNI {command} ({plugin}): {(string.IsNullOrEmpty(message) ? result.ErrorMessage : message)}");
        }
        return result.StandardOutput;
    }

    /// <summary>bridge + host-local over the node's pod CIDR. isGateway gives the bridge the
    /// range's first address, so the node (and the tests running on it) reach pods directly, and
    /// the pod's routes (<see cref="NodeAgentOptions.PodRoutes"/>) go through it, which is how a
    /// pod reaches ClusterIPs and other nodes' pods; ipMasq is off on purpose: pod traffic is
    /// never NATed off the machine.</summary>
    private string BridgeConfig(string podCidr) => new JsonObject
    {
        ["cniVersion"] = "1.0.0",
        ["name"] = NetworkName,
        ["type"] = "bridge",
        ["bridge"] = options.BridgeName,
        ["isGateway"] = true,
        ["ipMasq"] = false,
        ["hairpinMode"] = true,
        ["ipam"] = new JsonObject
        {
            ["type"] = "host-local",
            ["ranges"] = new JsonArray(new JsonArray(new JsonObject { ["subnet"] = podCidr })),
            ["routes"] = new JsonArray([.. options.EffectivePodRoutes.Select(r => (JsonNode)new JsonObject { ["dst"] = r })]),
            ["dataDir"] = _ipamDirectory,
        },
    }.ToJsonString();

    private static string LoopbackConfig => """{"cniVersion":"1.0.0","name":"lo","type":"loopback"}""";

    private string RecordPath(string uid) => Path.Combine(_recordDirectory, uid + ".json");

    private SandboxRecord? Read(string uid)
    {
        try
        {
            return JsonSerializer.Deserialize<SandboxRecord>(File.ReadAllText(RecordPath(uid)));
        }
        catch (Exception ex) when (ex is IOException or JsonException)
        {
            return null;
        }
    }

    private void Write(SandboxRecord record)
    {
        // Write and rename, so a crash never leaves a half-written record.
        var path = RecordPath(record.PodUid);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(record, RecordJson));
        File.Move(temporary, path, overwrite: true);
    }

    internal sealed record SandboxRecord
    {
        public string PodUid { get; init; } = "";
        public string PodNamespace { get; init; } = "";
        public string PodName { get; init; } = "";
        public string Netns { get; init; } = "";
        public string? Ip { get; init; }
        public string Network { get; init; } = "";
        public Dictionary<string, string> Labels { get; init; } = [];

        public Sandbox ToSandbox() => new(PodUid, $"{PodNamespace}/{PodName}", Netns, Ip);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sandbox of pod {Pod} ({Uid}) created with address {Ip}")]
    private static partial void LogSandboxCreated(ILogger logger, string pod, string uid, string? ip);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sandbox of pod {Uid} removed")]
    private static partial void LogSandboxRemoved(ILogger logger, string uid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "CNI DEL for pod {Uid} failed: {Message}")]
    private static partial void LogCniDelFailed(ILogger logger, string uid, string message);
}
