using Orchestrator.Grains.Security;

namespace Orchestrator.Grains.Storage.Credentials;

/// <summary>
/// The embedded profile keeps the cluster's credentials in its data directory, as k3s keeps
/// server/tls: <c>credentials/ca.crt</c> (readable by anyone: it is what clients trust),
/// <c>ca.key</c>, <c>service-account.key</c>, <c>node-bootstrap.secret</c> and <c>admin.token</c>
/// (owner only, 0600, in a 0700 directory).
/// </summary>
public sealed class FileCredentialStore(string dataDirectory) : ICredentialStore
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public string Directory { get; } = Path.Combine(dataDirectory, "credentials");

    public string CaCertificatePath => Path.Combine(Directory, "ca.crt");

    public async Task<StoredCredentials?> LoadAsync(CancellationToken cancellationToken)
    {
        var token = Path.Combine(Directory, "admin.token");
        // admin.token is written last: with it present the set is complete.
        if (!File.Exists(token))
        {
            return null;
        }
        var nodeSecret = Path.Combine(Directory, NodeBootstrapSecretFile);
        return new StoredCredentials(
            await File.ReadAllTextAsync(CaCertificatePath, cancellationToken),
            await File.ReadAllTextAsync(Path.Combine(Directory, "ca.key"), cancellationToken),
            await File.ReadAllTextAsync(Path.Combine(Directory, "service-account.key"), cancellationToken),
            (await File.ReadAllTextAsync(token, cancellationToken)).Trim(),
            File.Exists(nodeSecret) ? (await File.ReadAllTextAsync(nodeSecret, cancellationToken)).Trim() : null);
    }

    private const string NodeBootstrapSecretFile = "node-bootstrap.secret";

    public async Task<StoredCredentials> AddNodeBootstrapSecretAsync(string secret, CancellationToken cancellationToken)
    {
        // One silo per data directory: no concurrent writer to lose a race to.
        await WriteAsync(NodeBootstrapSecretFile, secret + "\n", OwnerOnly, cancellationToken);
        return await LoadAsync(cancellationToken) ?? throw new InvalidOperationException($"the cluster's credentials in {Directory} vanished");
    }

    public async Task<StoredCredentials> AddAsync(StoredCredentials credentials, CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(Directory);
        }
        else
        {
            System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        await WriteAsync("ca.key", credentials.CaKeyPem, OwnerOnly, cancellationToken);
        await WriteAsync("service-account.key", credentials.ServiceAccountKeyPem, OwnerOnly, cancellationToken);
        if (credentials.NodeBootstrapSecret is { } nodeSecret)
        {
            await WriteAsync(NodeBootstrapSecretFile, nodeSecret + "\n", OwnerOnly, cancellationToken);
        }
        await WriteAsync("ca.crt", credentials.CaCertificatePem, OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead, cancellationToken);
        await WriteAsync("admin.token", credentials.AdminToken + "\n", OwnerOnly, cancellationToken);
        return credentials;
    }

    private async Task WriteAsync(string name, string content, UnixFileMode mode, CancellationToken cancellationToken)
    {
        var path = Path.Combine(Directory, name);
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }
        await using (var file = new FileStream(temporary, options))
        {
            await file.WriteAsync(System.Text.Encoding.UTF8.GetBytes(content), cancellationToken);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
