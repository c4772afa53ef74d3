using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Orchestrator.Tests.MultiNode;

/// <summary>
/// How an agent inside a node's network namespace reaches a control plane that listens on the
/// test process's loopback: a listener on the node namespace's own 127.0.0.1, created from this
/// process by entering the namespace on one thread just long enough to open the socket (a socket
/// stays in the namespace it was made in), which relays every connection to the same port on
/// this process's 127.0.0.1. The agent keeps its default configuration (the embedded profile's
/// localhost gateway), no address outside the test's namespaces carries a byte, and the link can
/// be cut and restored with the node's network (<see cref="Connected"/>).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class ControlPlaneLink : IAsyncDisposable
{
    private const int CloneNewNet = 0x40000000;
    private const int ReadOnlyCloseOnExec = 0x80000;

    private readonly Socket _listener;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(Socket A, Socket B)> _open = [];
    private readonly Task _accept;
    private volatile bool _connected = true;

    private ControlPlaneLink(Socket listener, int targetPort)
    {
        _listener = listener;
        _targetPort = targetPort;
        _accept = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Listens on 127.0.0.1:<paramref name="port"/> inside the network namespace at
    /// <paramref name="netnsPath"/>, relaying to 127.0.0.1:<paramref name="targetPort"/> here.</summary>
    public static ControlPlaneLink Open(string netnsPath, int port, int targetPort)
    {
        var listener = InNamespace(netnsPath, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                s.Bind(new IPEndPoint(IPAddress.Loopback, port));
                s.Listen(64);
                return s;
            }
            catch
            {
                s.Dispose();
                throw;
            }
        });
        return new ControlPlaneLink(listener, targetPort);
    }

    /// <summary>False cuts the link: open connections are closed and new ones refused, as a node
    /// that lost its network sees it. True lets connections through again.</summary>
    public bool Connected
    {
        get => _connected;
        set
        {
            _connected = value;
            if (!value)
            {
                CloseAll();
            }
        }
    }

    /// <summary>Runs <paramref name="create"/> on a thread of its own inside the namespace, then
    /// returns that thread to this process's namespace before it ends.</summary>
    public static T InNamespace<T>(string netnsPath, Func<T> create)
    {
        T? result = default;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            var self = Open("/proc/thread-self/ns/net");
            var target = Open(netnsPath);
            try
            {
                if (SetNamespace(target, CloneNewNet) != 0)
                {
                    error = new InvalidOperationException($"setns({netnsPath}) failed: errno {Marshal.GetLastPInvokeError()}");
                    return;
                }
                try
                {
                    result = create();
                }
                catch (Exception ex)
                {
                    error = ex;
                }
                finally
                {
                    if (SetNamespace(self, CloneNewNet) != 0)
                    {
                        // A thread left in the wrong namespace would put whatever it runs next there.
                        Environment.FailFast($"could not return a thread to its own network namespace: errno {Marshal.GetLastPInvokeError()}");
                    }
                }
            }
            finally
            {
                _ = Close(target);
                _ = Close(self);
            }
        });
        thread.Start();
        thread.Join();
        return error is null ? result! : throw new InvalidOperationException($"in network namespace {netnsPath}: {error.Message}", error);
    }

    private static int Open(string path)
    {
        var fd = OpenFile(path, ReadOnlyCloseOnExec);
        return fd >= 0 ? fd : throw new IOException($"open({path}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket inbound;
            try
            {
                inbound = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            if (!_connected)
            {
                inbound.Dispose();
                continue;
            }
            _ = RelayAsync(inbound);
        }
    }

    private async Task RelayAsync(Socket inbound)
    {
        var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        inbound.NoDelay = true;
        var pair = (inbound, outbound);
        try
        {
            await outbound.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _targetPort), _stop.Token);
            lock (_open)
            {
                _open.Add(pair);
            }
            await using var a = new NetworkStream(inbound, ownsSocket: false);
            await using var b = new NetworkStream(outbound, ownsSocket: false);
            // Either direction ending ends both, as a TCP proxy in the path would.
            await Task.WhenAny(a.CopyToAsync(b, _stop.Token), b.CopyToAsync(a, _stop.Token));
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            lock (_open)
            {
                _open.Remove(pair);
            }
            inbound.Dispose();
            outbound.Dispose();
        }
    }

    private void CloseAll()
    {
        List<(Socket A, Socket B)> open;
        lock (_open)
        {
            open = [.. _open];
            _open.Clear();
        }
        foreach (var (a, b) in open)
        {
            a.Dispose();
            b.Dispose();
        }
    }

    /// <summary>Closes the listener (which lets the namespace go) and every relayed connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        CloseAll();
        try
        {
            await _accept;
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNamespace(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenFile(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
