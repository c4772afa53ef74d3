using System.Collections.Concurrent;
using System.Runtime.Versioning;
using Orchestrator.Model;

namespace Orchestrator.NodeAgent.Runtime.Containerd;

/// <summary>
/// A pod's volumes on the node. emptyDir is a directory per pod under the agent's data directory
/// (a tmpfs when its medium is "Memory") that lives as long as the pod's sandbox. hostPath is a
/// bind mount of a node path, allowed only under <see cref="NodeAgentOptions.AllowedHostPathRoots"/>
/// (after resolving symlinks, so a link under /tmp cannot reach /etc), with Kubernetes' type
/// checks: Directory, DirectoryOrCreate, File, FileOrCreate.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class PodVolumes(NodeAgentOptions options)
{
    private readonly string _podsDirectory = Path.Combine(options.DataDirectory, "pods");
    private readonly IReadOnlyList<string> _allowedRoots = options.EffectiveAllowedHostPathRoots;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    public string PodDirectory(string podUid) => Path.Combine(_podsDirectory, podUid);

    /// <summary>Prepares the volumes one container mounts and returns ctr's <c>--mount</c> values;
    /// throws <see cref="RuntimeException"/> with CreateContainerConfigError when the pod asks for
    /// something this node does not allow or cannot provide.</summary>
    public async Task<IReadOnlyList<string>> PrepareAsync(Pod pod, Container container, CancellationToken cancellationToken)
    {
        var uid = pod.Metadata.Uid!;
        var mounts = new List<string>();
        if (container.VolumeMounts is not { Count: > 0 } volumeMounts)
        {
            return mounts;
        }
        var gate = _locks.GetOrAdd(uid, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            foreach (var vm in volumeMounts)
            {
                var volume = pod.Spec.Volumes?.FirstOrDefault(v => v.Name == vm.Name)
                    ?? throw ConfigError($"volumeMount {vm.Name} refers to no volume of the pod");
                var source = volume switch
                {
                    { EmptyDir: { } emptyDir } => await EmptyDirAsync(uid, volume.Name, emptyDir, cancellationToken),
                    { HostPath: { } hostPath } => HostPath(volume.Name, hostPath),
                    _ => throw ConfigError($"volume {volume.Name} has no supported source (emptyDir or hostPath)"),
                };
                if (!string.IsNullOrEmpty(vm.SubPath))
                {
                    if (Path.IsPathRooted(vm.SubPath) || vm.SubPath.Split('/').Contains(".."))
                    {
                        throw ConfigError($"subPath {vm.SubPath} of volumeMount {vm.Name} must be a relative path without '..'");
                    }
                    source = Path.Combine(source, vm.SubPath);
                    if (!File.Exists(source))
                    {
                        // Kubernetes creates a missing subPath as a directory.
                        Directory.CreateDirectory(source);
                    }
                }
                // ctr's --mount splits its value on commas; such a path cannot be said to it.
                if (source.Contains(',', StringComparison.Ordinal) || vm.MountPath.Contains(',', StringComparison.Ordinal))
                {
                    throw ConfigError($"volumeMount {vm.Name}: paths with commas are not supported ({source} -> {vm.MountPath})");
                }
                var mode = vm.ReadOnly == true ? "ro" : "rw";
                mounts.Add($"type=bind,src={source},dst={vm.MountPath},options=rbind:{mode}");
            }
            return mounts;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Removes the pod's emptyDir volumes (unmounting tmpfs ones first).</summary>
    public async Task RemoveAsync(string podUid, CancellationToken cancellationToken)
    {
        var directory = PodDirectory(podUid);
        if (!Directory.Exists(directory))
        {
            return;
        }
        var gate = _locks.GetOrAdd(podUid, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            foreach (var mountPoint in Mounts.Under(directory))
            {
                await Mounts.UnmountAsync(mountPoint, cancellationToken);
            }
            // Never delete recursively through something still mounted: that would empty it.
            if (Mounts.Under(directory).Count == 0)
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        finally
        {
            gate.Release();
            _locks.TryRemove(podUid, out _);
        }
    }

    private async Task<string> EmptyDirAsync(string uid, string name, EmptyDirVolumeSource emptyDir, CancellationToken cancellationToken)
    {
        var path = Path.Combine(PodDirectory(uid), "volumes", "empty-dir", name);
        Directory.CreateDirectory(path);
        if (emptyDir.Medium == "Memory" && !Mounts.IsMountPoint(path))
        {
            var mountOptions = "mode=0777";
            if (emptyDir.SizeLimit is { } limit && limit.WholeValue > 0)
            {
                mountOptions += $",size={limit.WholeValue}";
            }
            var result = await Tool.RunAsync("mount", ["-t", "tmpfs", "-o", mountOptions, "tmpfs", path], cancellationToken);
            if (!result.Succeeded)
            {
                throw ConfigError($"mounting a tmpfs for emptyDir {name}: {result.ErrorMessage}");
            }
        }
        else
        {
            // Kubernetes makes emptyDir world-writable so that any container user can use it.
            File.SetUnixFileMode(path, (UnixFileMode)0x1FF);
        }
        return path;
    }

    private string HostPath(string name, HostPathVolumeSource hostPath)
    {
        var path = hostPath.Path;
        if (!Path.IsPathRooted(path))
        {
            throw ConfigError($"hostPath {path} of volume {name} must be an absolute path");
        }
        var resolved = Resolve(path);
        if (!_allowedRoots.Any(root => Resolve(root) is var r && (resolved == r || resolved.StartsWith(r.TrimEnd('/') + "/", StringComparison.Ordinal))))
        {
            throw ConfigError($"hostPath {path} of volume {name} is outside the allowed host path roots [{string.Join(", ", _allowedRoots)}] (Agent:AllowedHostPathRoots)");
        }
        switch (hostPath.Type ?? "")
        {
            case "":
                break;
            case "DirectoryOrCreate":
                if (File.Exists(resolved))
                {
                    throw ConfigError($"hostPath {path} of volume {name} is a file, not a directory");
                }
                if (!Directory.Exists(resolved))
                {
                    Directory.CreateDirectory(resolved, (UnixFileMode)0x1ED);
                }
                break;
            case "Directory":
                if (!Directory.Exists(resolved))
                {
                    throw ConfigError($"hostPath {path} of volume {name} is not an existing directory (type Directory)");
                }
                break;
            case "FileOrCreate":
                if (Directory.Exists(resolved))
                {
                    throw ConfigError($"hostPath {path} of volume {name} is a directory, not a file");
                }
                if (!File.Exists(resolved))
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(resolved)!);
                    using (File.Create(resolved))
                    {
                    }
                    File.SetUnixFileMode(resolved, (UnixFileMode)0x1A4);
                }
                break;
            case "File":
                if (!File.Exists(resolved))
                {
                    throw ConfigError($"hostPath {path} of volume {name} is not an existing file (type File)");
                }
                break;
            default:
                throw ConfigError($"hostPath type {hostPath.Type} of volume {name} is not supported; use Directory, DirectoryOrCreate, File or FileOrCreate");
        }
        return resolved;
    }

    /// <summary>The path with every symlink along it resolved (what the kernel would mount);
    /// the part that does not exist yet is kept as written.</summary>
    internal static string Resolve(string path, int depth = 0)
    {
        var full = Path.GetFullPath(path);
        if (depth > 40)
        {
            return full;
        }
        var parts = full.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = "/";
        for (var i = 0; i < parts.Length; i++)
        {
            var next = Path.Combine(current, parts[i]);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (!info.Exists)
            {
                return Path.Combine([current, .. parts[i..]]);
            }
            if (info.LinkTarget is not null)
            {
                var target = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? next;
                // The target may itself lie under symlinked directories: resolve it again.
                current = Resolve(target, depth + 1);
            }
            else
            {
                current = next;
            }
        }
        return current;
    }

    private static RuntimeException ConfigError(string message) => new("CreateContainerConfigError", message);
}
