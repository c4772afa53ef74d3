using System.Globalization;
using System.Text;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;
using Orchestrator.Tests.Infrastructure.Processes;

namespace Orchestrator.Tests.Client;

/// <summary>
/// Interface versioning: a client compiled against an older copy of the contract
/// (tests/Orchestrator.FrozenClient: a frozen copy of the grain interfaces and Namespace types,
/// resolved by their stable aliases, without fields added since) calls today's silo, and the silo
/// keeps what that client does not know.
/// </summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class FrozenContractTests(ControlPlaneFixture cp)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task AClientBuiltAgainstTheFrozenContractCreatesListsPatchesAndDeletesANamespace()
    {
        var name = $"frozen-{Guid.NewGuid():N}"[..20];
        var grain = cp.Grains.GetGrain<IResourceGrain<Namespace>>(Namespace.Type.Key(null, name));

        var created = await RunFrozenClientAsync("create", name);
        Assert.Contains($"create: {name}", created, StringComparison.Ordinal);
        Assert.Contains($"{name} among them", created, StringComparison.Ordinal);

        // Today's API sees what the old client wrote, with the fields the silo filled in.
        var before = await grain.GetAsync();
        Assert.NotNull(before);
        Assert.Equal("frozen-client", before.Metadata.Label("made-by"));
        Assert.False(string.IsNullOrEmpty(before.Metadata.Uid));
        Assert.NotNull(before.Metadata.CreationTimestamp);
        // A field the old client's ObjectMeta does not have, set by a current client.
        await grain.PatchAsync(PatchType.Merge, Encoding.UTF8.GetBytes("""{"metadata":{"annotations":{"added-by":"current-client"}}}"""), status: false);

        var updated = await RunFrozenClientAsync("update", name);
        Assert.Contains($"update: {name}", updated, StringComparison.Ordinal);

        var after = await grain.GetAsync();
        Assert.NotNull(after);
        Assert.Equal("frozen-client", after.Metadata.Label("made-by"));
        Assert.Equal("frozen-client", after.Metadata.Label("updated-by"));
        Assert.Equal(before.Metadata.Uid, after.Metadata.Uid);
        Assert.Equal(before.Metadata.CreationTimestamp, after.Metadata.CreationTimestamp);
        Assert.Equal("current-client", after.Metadata.Annotation("added-by"));
        Assert.True(after.ResourceVersionNumber() > before.ResourceVersionNumber());

        var deleted = await RunFrozenClientAsync("delete", name);
        Assert.Contains($"delete: {name}", deleted, StringComparison.Ordinal);
        var gone = await grain.GetAsync();
        Assert.True(gone is null || gone.Metadata.IsDeleting, $"{name} is neither gone nor terminating after the old client deleted it");
    }

    /// <summary>Runs one step of the frozen client against the fixture's gateway; its output, or
    /// a failure with its output when it does not exit 0 within <see cref="RunTimeout"/>.</summary>
    private async Task<string> RunFrozenClientAsync(string step, string name)
    {
        var log = Path.Combine(cp.DataDirectory, $"frozen-client-{name}-{step}.log");
        await using var process = ChildProcess.Start("dotnet",
        [
            SiloProcess.AssemblyPath(Path.Combine("tests", "Orchestrator.FrozenClient"), "Orchestrator.FrozenClient"),
            cp.GatewayPort.ToString(CultureInfo.InvariantCulture),
            cp.ClusterId,
            "orchestrator",
            step,
            name,
            cp.KubeconfigPath,
        ], log);
        using var deadline = new CancellationTokenSource(RunTimeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            await process.KillAsync();
            Assert.Fail($"the frozen client's {step} did not finish within {RunTimeout.TotalSeconds:0} s:\n{process.Tail()}");
        }
        var output = process.Tail(200);
        Assert.True(process.ExitCode == 0, $"the frozen client's {step} exited with {process.ExitCode}:\n{output}");
        return output;
    }
}
