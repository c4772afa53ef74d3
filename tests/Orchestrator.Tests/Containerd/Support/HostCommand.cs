using CliWrap;
using CliWrap.Buffered;

namespace Orchestrator.Tests.Containerd;

/// <summary>Runs a host command with an argument list (never a shell string) and returns what it
/// printed; shared by the containerd tests and the pod-start benchmark.</summary>
public static class HostCommand
{
    public static async Task<BufferedCommandResult> RunAsync(string executable, IEnumerable<string> arguments, CancellationToken cancellationToken = default)
    {
        return await Cli.Wrap(executable).WithArguments(arguments).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cancellationToken);
    }

    /// <summary>Runs it and throws with its stderr when it fails.</summary>
    public static async Task<string> CheckAsync(string executable, IEnumerable<string> arguments, CancellationToken cancellationToken = default)
    {
        var args = arguments.ToList();
        var result = await RunAsync(executable, args, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{executable} {string.Join(' ', args)} exited with {result.ExitCode}: {result.StandardError.Trim()}");
        }
        return result.StandardOutput;
    }

    /// <summary>The repository's root (the directory holding Orchestrator.sln).</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Orchestrator.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"no Orchestrator.sln above {AppContext.BaseDirectory}");
    }

    public static bool IsRoot => Environment.UserName == "root";
}
