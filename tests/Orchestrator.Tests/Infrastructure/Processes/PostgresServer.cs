using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Orchestrator.Tests.Infrastructure.Processes;

/// <summary>
/// A PostgreSQL server of our own: initdb into a temporary directory and postgres on a free
/// loopback port, both run as the unprivileged "postgres" user (PostgreSQL refuses to run as root)
/// through setpriv, which execs in place, so the PID we hold is the postmaster's own. The session
/// time zone is not UTC, so that timestamps handled in the wrong zone show up in tests.
/// </summary>
/// <remarks>
/// Needs the Debian package postgresql (its binaries under /usr/lib/postgresql/VERSION/bin, the
/// newest version is used; ORCH_POSTGRES_BIN overrides the directory) and its "postgres" user.
/// </remarks>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string User = "postgres";

    /// <summary>The directory with initdb and postgres.</summary>
    public static string BinDirectory { get; } = FindBinDirectory();

    private readonly string _directory;
    private ChildProcess? _process;

    private PostgresServer(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public ChildProcess Process => _process ?? throw new InvalidOperationException("postgres is not running");

    private string DataDirectory => Path.Combine(_directory, "data");

    public static async Task<PostgresServer> StartAsync(string parentDirectory)
    {
        var directory = Path.Combine(parentDirectory, "postgres");
        Directory.CreateDirectory(directory);
        await RunAsync("chown", [User, directory]);
        var server = new PostgresServer(directory, Ports.Free());
        await RunAsync("setpriv",
            [.. AsPostgres, Path.Combine(BinDirectory, "initdb"), "-D", server.DataDirectory, "-U", User, "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
        await server.StartAsync();
        return server;
    }

    /// <summary>A connection string for <paramref name="database"/> on this server.</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Database={database};Username={User};Pooling=true";

    /// <summary>Starts the server (again, after <see cref="StopAsync"/>) on the same port and data.</summary>
    public async Task StartAsync()
    {
        _process = ChildProcess.Start("setpriv",
            [
                .. AsPostgres, Path.Combine(BinDirectory, "postgres"),
                "-D", DataDirectory,
                "-p", Port.ToString(CultureInfo.InvariantCulture),
                "-k", _directory,
                "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off",
                "-c", "full_page_writes=off",
                "-c", "max_connections=300",
                "-c", "timezone=Pacific/Auckland",
            ],
            Path.Combine(_directory, "postgres.log"));
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false;Timeout=2");
                await connection.OpenAsync();
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                if (_process.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new InvalidOperationException($"postgres did not start on port {Port}:\n{_process.Tail()}", ex);
                }
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Fast shutdown (SIGINT): disconnects every client and stops, as a restart does.</summary>
    public Task StopAsync() => Process.StopAsync(ChildProcess.SigInt, TimeSpan.FromSeconds(20));

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_process is not null)
        {
            await _process.StopAsync(ChildProcess.SigInt, TimeSpan.FromSeconds(20));
            await _process.DisposeAsync();
        }
    }

    private static string FindBinDirectory()
    {
        if (Environment.GetEnvironmentVariable("ORCH_POSTGRES_BIN") is { Length: > 0 } configured)
        {
            return configured;
        }
        var versions = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Where(d => File.Exists(Path.Combine(d, "bin", "postgres")) && int.TryParse(Path.GetFileName(d), out _))
                .OrderByDescending(d => int.Parse(Path.GetFileName(d), CultureInfo.InvariantCulture))
                .ToList()
            : [];
        return versions.Count > 0
            ? Path.Combine(versions[0], "bin")
            : throw new InvalidOperationException(
                "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install the Debian package postgresql, or set ORCH_POSTGRES_BIN.");
    }

    private static string[] AsPostgres => ["--reuid", User, "--regid", User, "--init-groups", "--reset-env"];

    private static async Task RunAsync(string fileName, string[] arguments)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} failed ({process.ExitCode}):\n{await stdout}\n{await stderr}");
        }
    }
}
