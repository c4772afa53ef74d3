namespace Orchestrator.NodeAgent.Runtime.Containerd;

/// <summary>Mount points, through the util-linux tools (no shell, arguments as a list).</summary>
internal static class Mounts
{
    /// <summary>True when <paramref name="path"/> is a mount point in this mount namespace.</summary>
    public static bool IsMountPoint(string path)
    {
        var full = Path.GetFullPath(path).TrimEnd('/');
        try
        {
            foreach (var line in File.ReadLines("/proc/self/mountinfo"))
            {
                // Field 5 is the mount point, with spaces and the like escaped as \040 etc.
                var fields = line.Split(' ');
                if (fields.Length > 4 && Unescape(fields[4]) == full)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
        }
        return false;
    }

    /// <summary>Mount points at or under <paramref name="directory"/>, deepest first (the order to
    /// unmount them in).</summary>
    public static IReadOnlyList<string> Under(string directory)
    {
        var root = Path.GetFullPath(directory).TrimEnd('/');
        var found = new List<string>();
        try
        {
            foreach (var line in File.ReadLines("/proc/self/mountinfo"))
            {
                var fields = line.Split(' ');
                if (fields.Length > 4 && Unescape(fields[4]) is var mp && (mp == root || mp.StartsWith(root + "/", StringComparison.Ordinal)))
                {
                    found.Add(mp);
                }
            }
        }
        catch (IOException)
        {
        }
        return found.Distinct().OrderByDescending(p => p.Length).ToList();
    }

    public static async Task UnmountAsync(string path, CancellationToken cancellationToken)
    {
        while (IsMountPoint(path))
        {
            var result = await Tool.RunAsync("umount", [path], cancellationToken);
            if (!result.Succeeded)
            {
                // Busy (a process still has it open): detach it now, the kernel frees it later.
                result = await Tool.RunAsync("umount", ["--lazy", path], cancellationToken);
                if (!result.Succeeded)
                {
                    throw new IOException($"umount {path}: {result.ErrorMessage}");
                }
            }
        }
    }

    private static string Unescape(string field) =>
        field.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
