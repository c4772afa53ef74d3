using CliWrap;
using CliWrap.Buffered;

namespace Orchestrator.NodeAgent.Runtime.Containerd;

/// <summary>
/// Runs <c>ctr</c> against one containerd socket and namespace. Arguments always go as a list
/// (CliWrap passes each as one argv entry), so values with quotes, <c>$()</c>, semicolons or
/// newlines reach containerd verbatim; nothing is ever interpreted by a shell.
/// </summary>
internal sealed class Ctr(string address, string @namespace, string executable = "ctr")
{
    public string Address { get; } = address;

    public string Namespace { get; } = @namespace;

    public Task<ToolResult> RunAsync(IEnumerable<string> arguments, CancellationToken cancellationToken) =>
        Tool.RunAsync(executable, ["--address", Address, "--namespace", Namespace, .. arguments], cancellationToken);
}

/// <summary>What a command printed and how it ended.</summary>
internal sealed record ToolResult(int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The error a Go CLI printed ("ctr: ..."), for messages; the whole of stderr otherwise.</summary>
    public string ErrorMessage
    {
        get
        {
            var lines = StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var ctr = lines.LastOrDefault(l => l.StartsWith("ctr: ", StringComparison.Ordinal));
            return ctr is not null ? ctr["ctr: ".Length..] : lines.Length > 0 ? string.Join("; ", lines) : $"exit code {ExitCode}";
        }
    }

    public bool NotFound => StandardError.Contains("not found", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Runs a program with an argument list, capturing its output; a non-zero exit is a
/// result, not an exception.</summary>
internal static class Tool
{
    public static async Task<ToolResult> RunAsync(
        string executable,
        IReadOnlyList<string> arguments,
        CancellationToken cancellationToken,
        string? standardInput = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var command = Cli.Wrap(executable)
            .WithArguments(arguments)
            .WithValidation(CommandResultValidation.None);
        if (standardInput is not null)
        {
            command = command.WithStandardInputPipe(PipeSource.FromString(standardInput));
        }
        if (environment is not null)
        {
            command = command.WithEnvironmentVariables(environment);
        }
        var result = await command.ExecuteBufferedAsync(cancellationToken);
        return new ToolResult(result.ExitCode, result.StandardOutput, result.StandardError);
    }
}
