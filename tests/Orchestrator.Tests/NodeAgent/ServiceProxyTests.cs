using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestrator.Model;
using Orchestrator.NodeAgent;
using Orchestrator.NodeAgent.Proxy;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.NodeAgent;

/// <summary>The proxy's loop against a real control plane and a recording nat table: it writes
/// once both kinds are listed, rewrites only what changed, reads the table back after a failed
/// write, and removes what a deleted service had.</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class ServiceProxyTests(ControlPlaneFixture cp)
{
    /// <summary>A nat table that records what it is given and can be told to fail.</summary>
    private sealed class RecordingNat : INatTable
    {
        public ConcurrentQueue<string> Restores { get; } = new();

        public int Saves;

        public volatile bool Fail;

        public Task<string> SaveAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Saves);
            return Task.FromResult("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n");
        }

        public Task RestoreAsync(string rules, CancellationToken cancellationToken)
        {
            if (Fail)
            {
                Fail = false;
                throw new InvalidOperationException("iptables-restore failed: simulated");
            }
            Restores.Enqueue(rules);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task WritesWhatChangedRecoversFromAFailedWriteAndRemovesDeletedServices()
    {
        var ns = await cp.NewNamespaceAsync();
        async Task CreateAsync(string name, params string[] ips)
        {
            await cp.Api.CreateAsync($"/api/v1/namespaces/{ns}/services", new Service
            {
                Metadata = new ObjectMeta { Name = name },
                Spec = new ServiceSpec { Ports = [new ServicePort { Port = 80, TargetPort = 8080 }] },
            });
            await cp.Api.CreateAsync($"/api/v1/namespaces/{ns}/endpoints", Endpoints(name, ips));
        }
        Endpoints Endpoints(string name, string[] ips) => new()
        {
            Metadata = new ObjectMeta { Name = name },
            Subsets = [new EndpointSubset { Addresses = ips.Select(ip => new EndpointAddress { Ip = ip, NodeName = "elsewhere" }).ToList(), Ports = [new EndpointPort { Port = 8080 }] }],
        };
        await CreateAsync("a", "10.244.7.2");
        await CreateAsync("b", "10.244.7.3");
        var a = ProxyRules.ServiceChain($"{ns}/a:80", "TCP");
        var b = ProxyRules.ServiceChain($"{ns}/b:80", "TCP");

        var nat = new RecordingNat();
        var options = new NodeAgentOptions { Runtime = "fake", ResyncInterval = TimeSpan.FromMinutes(5), ProxyFullSyncInterval = TimeSpan.FromMinutes(5) };
        await using var proxy = new ServiceProxy("n1", options, cp.Grains, nat, TimeProvider.System, NullLogger.Instance);
        proxy.Start();

        // The first write has every chain, both services' included, and the jumps.
        var first = await Eventually.Until(() => Task.FromResult(nat.Restores.TryPeek(out var r) ? r : null), "the first write");
        Assert.Equal(1, nat.Saves);
        Assert.Contains($"-A {a} -p tcp -j DNAT --to-destination 10.244.7.2:8080", first, StringComparison.Ordinal);
        Assert.Contains($"-A {b} -p tcp -j DNAT --to-destination 10.244.7.3:8080", first, StringComparison.Ordinal);
        Assert.Contains("-I PREROUTING 1 ", first, StringComparison.Ordinal);

        // An endpoint of a joins: a's chain is rewritten, b's is left alone.
        var current = await cp.Api.GetAsync<Endpoints>($"/api/v1/namespaces/{ns}/endpoints/a");
        await cp.Api.SendAsync(HttpMethod.Put, $"/api/v1/namespaces/{ns}/endpoints/a",
            Serialization.ResourceJson.SerializeToString(Endpoints("a", ["10.244.7.2", "10.244.8.2"]) with { Metadata = current.Metadata }));
        var joined = await Eventually.Until(() => Task.FromResult(nat.Restores.FirstOrDefault(r => r.Contains("10.244.8.2", StringComparison.Ordinal))), "the new endpoint written");
        Assert.Contains($":{a} - [0:0]", joined, StringComparison.Ordinal);
        Assert.DoesNotContain(b, joined, StringComparison.Ordinal);
        Assert.Equal(1, nat.Saves);

        // A write fails: the next sync reads the table back first, then writes.
        nat.Fail = true;
        await CreateAsync("c", "10.244.7.4");
        await Eventually.True(() => nat.Restores.Any(r => r.Contains("10.244.7.4", StringComparison.Ordinal)), "c written after the failure", TimeSpan.FromSeconds(10));
        Assert.Equal(2, nat.Saves);

        // b is deleted: its chain is flushed and deleted.
        await cp.Api.SendAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/services/b");
        var removed = await Eventually.Until(() => Task.FromResult(nat.Restores.FirstOrDefault(r => r.Contains($"-X {b}", StringComparison.Ordinal))), "b's chain deleted");
        Assert.DoesNotContain($"-A {b} ", removed, StringComparison.Ordinal);
        Assert.DoesNotContain($"-j {b}", removed, StringComparison.Ordinal);
    }
}
