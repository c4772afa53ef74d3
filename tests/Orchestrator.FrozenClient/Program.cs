using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.FrozenClient;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;
using Orchestrator.Serialization;

// A service built against the frozen contract (Contract/, see README.md), calling a newer silo.
// Usage: <gatewayPort> <clusterId> <serviceId> <create|update|delete|all> <namespace> <kubeconfig>
if (args.Length != 6 || !int.TryParse(args[0], CultureInfo.InvariantCulture, out var gatewayPort))
{
    Console.Error.WriteLine("usage: Orchestrator.FrozenClient <gatewayPort> <clusterId> <serviceId> <create|update|delete|all> <namespace> <kubeconfig>");
    return 2;
}
var (clusterId, serviceId, step, name) = (args[1], args[2], args[3], args[4]);
var credentials = Credentials.FromKubeconfig(args[5]);

var services = new ServiceCollection();
services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
services.AddOrleansClient(client => client
    .UseLocalhostClustering(gatewayPort, serviceId, clusterId)
    .UseTls(credentials.ConfigureTls)
    .AddOutgoingGrainCallFilter(new TokenFilter(credentials)));
await using var provider = services.BuildServiceProvider();
var hosted = provider.GetServices<IHostedService>().ToList();
using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
try
{
    foreach (var s in hosted)
    {
        await s.StartAsync(deadline.Token);
    }
    var grains = provider.GetRequiredService<IClusterClient>();
    // As today's Orchestrator.Client: ResourceType.Key (cluster-scoped: the name) and the index
    // keyed by the kind's plural.
    var grain = grains.GetGrain<IResourceGrain<Namespace>>(name);
    var index = grains.GetGrain<IResourceIndexGrain<Namespace>>("namespaces");

    if (step is "create" or "all")
    {
        var created = await grain.CreateAsync(new Namespace
        {
            ApiVersion = "v1",
            Kind = "Namespace",
            Metadata = new ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["made-by"] = "frozen-client" } },
        });
        Console.WriteLine($"create: {created.Metadata.Name} resourceVersion={created.Metadata.ResourceVersion}");

        var got = await grain.GetAsync() ?? throw new InvalidOperationException($"get: {name} not found");
        Require(got.Metadata.Labels?.GetValueOrDefault("made-by") == "frozen-client", $"get: label made-by missing on {name}");
        Console.WriteLine($"get: {got.Metadata.Name} phase={got.Status?.Phase}");

        var list = await index.ListAsync(new ResourceQuery(), new ListOptions());
        Require(list.Items.Any(n => n.Metadata.Name == name), $"list: {name} not among {list.Items.Count} namespaces");
        Console.WriteLine($"list: {list.Items.Count} namespaces at resourceVersion {list.ResourceVersion}, {name} among them");
    }

    if (step is "update" or "all")
    {
        // A merge patch, not UpdateAsync: an update replaces metadata and spec with what this
        // client sends, which lacks the fields it does not know (annotations, ownerReferences).
        var patch = Encoding.UTF8.GetBytes("""{"metadata":{"labels":{"updated-by":"frozen-client"}}}""");
        var patched = await grain.PatchAsync(PatchType.Merge, patch, false);
        Require(patched.Metadata.Labels?.GetValueOrDefault("updated-by") == "frozen-client", "update: label updated-by missing");
        Require(patched.Metadata.Labels?.GetValueOrDefault("made-by") == "frozen-client", "update: label made-by lost");
        Console.WriteLine($"update: {patched.Metadata.Name} resourceVersion={patched.Metadata.ResourceVersion} labels={patched.Metadata.Labels!.Count}");
    }

    if (step is "delete" or "all")
    {
        var deleted = await grain.DeleteAsync(new DeleteOptions());
        Console.WriteLine($"delete: {deleted.Object.Metadata.Name} finished={deleted.Finished}");
    }
    return 0;
}
catch (ApiException ex)
{
    Console.Error.WriteLine($"failed ({step} {name}): {ex.Code} {ex.Reason}: {ex.Message}");
    return 1;
}
catch (Exception ex)
{
    Console.Error.WriteLine($"failed ({step} {name}): {ex}");
    return 1;
}
finally
{
    foreach (var s in Enumerable.Reverse(hosted))
    {
        await s.StopAsync(CancellationToken.None);
    }
}

static void Require(bool condition, string message)
{
    if (!condition)
    {
        throw new InvalidOperationException(message);
    }
}
