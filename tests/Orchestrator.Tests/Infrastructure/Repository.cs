namespace Orchestrator.Tests.Infrastructure;

/// <summary>Paths in the repository, for tests that start our programs as real processes.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>Debug or Release: whatever this test assembly was built as.</summary>
    public static string Configuration { get; } = AppContext.BaseDirectory.Contains("/bin/Release/", StringComparison.Ordinal) ? "Release" : "Debug";

    public static string SiloDll => Path.Combine(Root, "silos", "bin", Configuration, "net10.0", "Orchestrator.Silo.dll");

    public static string AgentDll => Path.Combine(Root, "node-agent", "bin", Configuration, "net10.0", "Orchestrator.NodeAgent.dll");

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Orchestrator.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Orchestrator.sln not found above " + AppContext.BaseDirectory);
    }
}
