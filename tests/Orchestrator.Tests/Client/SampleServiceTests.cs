using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Client;

/// <summary>
/// The sample service (examples/preview-environments) as a team would build it: against the
/// Orchestrator.Client NuGet package, never the project. The test packs the package (and the two
/// it depends on) into a feed of its own under a version of its own, so no earlier package in
/// NuGet's cache stands in for this build, and runs the sample's own tests, which start a silo
/// and create, watch, scale and delete a deployment through the package.
/// </summary>
public sealed class SampleServiceTests
{
    private static readonly TimeSpan PackDeadline = TimeSpan.FromMinutes(3);

    private static readonly TimeSpan SampleDeadline = TimeSpan.FromMinutes(8);

    private static readonly string[] Packages = ["Orchestrator.Model", "Orchestrator.GrainInterfaces", "Orchestrator.Client"];

    [Fact]
    public async Task TheSampleServicePassesItsTestsOnThePackedClient()
    {
        using var feed = new TempDirectory("orch-feed");
        using var logs = new TempDirectory("orch-sample");
        // SemVer forbids leading zeros in a numeric identifier: the last one starts at 10000.
        var version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Random.Shared.Next(10000, 100000)}";
        var environment = new Dictionary<string, string>
        {
            ["ORCHESTRATOR_SILO_DLL"] = Repository.SiloDll,
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
        };
        try
        {
            foreach (var package in Packages)
            {
                // --no-build: the solution's build of this configuration is what gets packed.
                await RunAsync(
                    ["pack", Path.Combine(Repository.Root, "grain-interfaces", package, package + ".csproj"), "-c", Repository.Configuration, "--no-build",
                     "-o", feed.Path, $"-p:Version={version}", "-nodeReuse:false"],
                    Path.Combine(logs.Path, $"pack-{package}.log"), environment, PackDeadline);
            }
            Assert.Equal(Packages.Select(p => $"{p}.{version}.nupkg").Order(StringComparer.Ordinal),
                Directory.GetFiles(feed.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));

            await RunAsync(
                ["test", Path.Combine(Repository.Root, "examples", "preview-environments", "PreviewEnvironments.Tests"), "-c", "Release",
                 $"-p:OrchestratorClientVersion={version}", $"-p:RestoreAdditionalProjectSources={feed.Path}", "-nodeReuse:false"],
                Path.Combine(logs.Path, "sample-test.log"), environment, SampleDeadline);
        }
        finally
        {
            ForgetPackages(version);
        }
    }

    private static async Task RunAsync(string[] arguments, string log, Dictionary<string, string> environment, TimeSpan deadline)
    {
        await using var process = ChildProcess.Start("dotnet", arguments, log, environment);
        try
        {
            await process.WaitForExitAsync().WaitAsync(deadline);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"dotnet {arguments[0]} did not finish within {deadline.TotalMinutes:0} min:\n{process.Tail(80)}");
        }
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', arguments)} failed with exit code {process.ExitCode}:\n{process.Tail(80)}");
    }

    /// <summary>Removes this test's versions from NuGet's global packages folder, where restore
    /// copied them; nothing else in it is touched.</summary>
    private static void ForgetPackages(string version)
    {
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var package in Packages)
        {
            var dir = Path.Combine(cache, package.ToLowerInvariant(), version);
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }
}
