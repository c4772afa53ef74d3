using Orchestrator.Grains.Security;
using Orchestrator.Grains.Storage.Credentials;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Cluster;

/// <summary>
/// The node bootstrap secret is kept with the cluster credentials in both profiles, and a cluster
/// whose credentials were stored before it existed gets one at its next start, the same for
/// every silo (the first writer wins).
/// </summary>
[Collection(ClusterCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NodeBootstrapSecretStoreTests(ClusterStoresFixture stores)
{
    /// <summary>Credentials as an earlier version stored them: no node bootstrap secret.</summary>
    private static StoredCredentials OldCredentials() => ClusterCredentials.Generate(DateTimeOffset.UtcNow) with { NodeBootstrapSecret = null };

    [Fact]
    public async Task TheFileStoreKeepsTheSecretAndAddsOneToOldCredentials()
    {
        using var data = new TempDirectory("orch-creds");
        var store = new FileCredentialStore(data.Path);
        await store.AddAsync(OldCredentials(), CancellationToken.None);

        var first = await ClusterCredentials.LoadOrCreateAsync(store, TimeProvider.System, CancellationToken.None);
        var again = await ClusterCredentials.LoadOrCreateAsync(new FileCredentialStore(data.Path), TimeProvider.System, CancellationToken.None);

        Assert.False(string.IsNullOrEmpty(first.NodeBootstrapSecret));
        Assert.Equal(first.NodeBootstrapSecret, again.NodeBootstrapSecret);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(store.Directory, "node-bootstrap.secret")));
    }

    [Fact]
    public async Task ThePostgresStoreGivesEverySiloTheSameSecretAndAddsOneToOldCredentials()
    {
        var connectionString = await stores.Postgres.CreateDatabaseAsync($"nbs{Guid.NewGuid():N}"[..16]);
        await new PostgresCredentialStore(connectionString).AddAsync(OldCredentials(), CancellationToken.None);

        // Two silos upgrading at once: each proposes a secret, one is kept.
        var silos = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ =>
            ClusterCredentials.LoadOrCreateAsync(new PostgresCredentialStore(connectionString), TimeProvider.System, CancellationToken.None)));
        var later = await ClusterCredentials.LoadOrCreateAsync(new PostgresCredentialStore(connectionString), TimeProvider.System, CancellationToken.None);

        Assert.False(string.IsNullOrEmpty(silos[0].NodeBootstrapSecret));
        Assert.Equal(silos[0].NodeBootstrapSecret, silos[1].NodeBootstrapSecret);
        Assert.Equal(silos[0].NodeBootstrapSecret, later.NodeBootstrapSecret);
    }

    [Fact]
    public async Task ANewClusterGetsItsSecretAtItsFirstStart()
    {
        var connectionString = await stores.Postgres.CreateDatabaseAsync($"nbn{Guid.NewGuid():N}"[..16]);

        var first = await ClusterCredentials.LoadOrCreateAsync(new PostgresCredentialStore(connectionString), TimeProvider.System, CancellationToken.None);
        var second = await ClusterCredentials.LoadOrCreateAsync(new PostgresCredentialStore(connectionString), TimeProvider.System, CancellationToken.None);

        Assert.Equal(first.NodeBootstrapSecret, second.NodeBootstrapSecret);
        Assert.NotEqual(first.AdminToken, first.NodeBootstrapSecret);
    }
}
