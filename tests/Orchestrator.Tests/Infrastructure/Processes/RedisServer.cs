using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Orchestrator.Tests.Infrastructure.Processes;

/// <summary>
/// A redis-server of our own: a temporary directory, a free loopback port, and the append-only
/// file on (fsync per write) so that a restart keeps the membership table, as production must.
/// Needs the Debian package redis-server (redis-server on the PATH).
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string _directory;
    private ChildProcess? _process;

    private RedisServer(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The StackExchange.Redis configuration string of this server.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    public ChildProcess Process => _process ?? throw new InvalidOperationException("redis-server is not running");

    public static async Task<RedisServer> StartAsync(string parentDirectory)
    {
        var directory = Path.Combine(parentDirectory, "redis");
        Directory.CreateDirectory(directory);
        var server = new RedisServer(directory, Ports.Free());
        await server.StartAsync();
        return server;
    }

    /// <summary>Starts redis-server (again, after <see cref="StopAsync"/>) on the same port and data.</summary>
    public async Task StartAsync()
    {
        try
        {
            _process = StartProcess();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("redis-server could not be started: install the Debian package redis-server.", ex);
        }
        var deadline = Stopwatch.StartNew();
        while (!await PingAsync())
        {
            if (_process.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(20))
            {
                throw new InvalidOperationException($"redis-server did not start on port {Port}:\n{_process.Tail()}");
            }
            await Task.Delay(20);
        }
    }

    private ChildProcess StartProcess() => ChildProcess.Start("redis-server",
        [
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--dir", _directory,
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--daemonize", "no",
        ],
        Path.Combine(_directory, "redis.log"));

    /// <summary>Shuts Redis down the way a restart does (SIGTERM: it finishes writing its data).</summary>
    public Task StopAsync() => Process.StopAsync(ChildProcess.SigTerm, TimeSpan.FromSeconds(10));

    public async Task<bool> PingAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or IOException or TimeoutException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.StopAsync(ChildProcess.SigTerm, TimeSpan.FromSeconds(10));
            await _process.DisposeAsync();
        }
    }
}
