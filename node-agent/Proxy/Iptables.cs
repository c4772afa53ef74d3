using Orchestrator.NodeAgent.Runtime.Containerd;

namespace Orchestrator.NodeAgent.Proxy;

/// <summary>Reads and writes the nat table.</summary>
public interface INatTable
{
    /// <summary><c>iptables-save -t nat</c>.</summary>
    Task<string> SaveAsync(CancellationToken cancellationToken);

    /// <summary><c>iptables-restore --noflush</c> with <paramref name="rules"/> on stdin: one
    /// transaction, applied whole or not at all.</summary>
    Task RestoreAsync(string rules, CancellationToken cancellationToken);
}

/// <summary>
/// The nat table through iptables-save and iptables-restore (CliWrap, arguments as a list, rules
/// on stdin). <paramref name="prefix"/> runs them through another command, e.g.
/// <c>nsenter --net=/run/netns/NODE</c> for a benchmark that programs several node namespaces
/// from one process; an agent runs them as they are, in its own network namespace.
/// </summary>
public sealed class Iptables(IReadOnlyList<string>? prefix = null) : INatTable
{
    private readonly IReadOnlyList<string> _prefix = prefix ?? [];

    public async Task<string> SaveAsync(CancellationToken cancellationToken)
    {
        var result = await RunAsync(["iptables-save", "-t", "nat"], null, cancellationToken);
        return result.Succeeded
            ? result.StandardOutput
            : throw new InvalidOperationException($"iptables-save failed: {result.ErrorMessage}");
    }

    public async Task RestoreAsync(string rules, CancellationToken cancellationToken)
    {
        // --wait: with the legacy backend another writer may hold the xtables lock for a moment.
        var result = await RunAsync(["iptables-restore", "--noflush", "--wait"], rules, cancellationToken);
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"iptables-restore failed: {result.ErrorMessage}");
        }
    }

    private async Task<ToolResult> RunAsync(IReadOnlyList<string> command, string? input, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> full = [.. _prefix, .. command];
        try
        {
            return await Tool.RunAsync(full[0], full.Skip(1).ToList(), cancellationToken, input);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"{full[0]} was not found: install iptables (apt-get install iptables) or turn the proxy off with Agent:Proxy=false.", ex);
        }
    }
}
