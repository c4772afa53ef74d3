using CliWrap;
using CliWrap.Buffered;
using Orchestrator.Tests.Containerd;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Kubectl;

/// <summary>Runs /usr/bin/kubectl with the silo's admin kubeconfig and a cache directory of its
/// own, so no discovery or OpenAPI document cached by an earlier run (of another server on the
/// same port) is used.</summary>
public sealed class KubectlRunner(string kubeconfig) : IDisposable
{
    private readonly TempDirectory _cache = new("kubectl-cache");

    public string CacheDirectory => _cache.Path;

    public Task<BufferedCommandResult> RunAsync(params string[] args) =>
        HostCommand.RunAsync("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", _cache.Path, .. args]);

    /// <summary>The command, for a test that reads its output while it runs (kubectl get -w).</summary>
    public Command Command(params string[] args) =>
        Cli.Wrap("kubectl").WithArguments(["--kubeconfig", kubeconfig, "--cache-dir", _cache.Path, .. args]).WithValidation(CommandResultValidation.None);

    /// <summary>Runs it and returns what it printed; throws with its stderr when it fails.</summary>
    public Task<string> CheckAsync(params string[] args) =>
        HostCommand.CheckAsync("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", _cache.Path, .. args]);

    public void Dispose() => _cache.Dispose();
}
