using System.Text;
using System.Threading.Channels;

namespace Orchestrator.Silo.Security;

/// <summary>
/// Appends audit lines to a file off the request path: requests put their line in a bounded
/// channel and one task writes them, flushing whenever the channel runs dry. A full channel makes
/// requests wait rather than lose events (Kubernetes' log backend blocks too). The file rotates by
/// size as kube-apiserver's --audit-log-maxsize/--audit-log-maxbackup do: audit.log becomes
/// audit.log.1, the older ones shift up, and the oldest beyond MaxBackups is deleted.
/// </summary>
public sealed class AuditLogWriter : IAsyncDisposable
{
    /// <summary>Lines waiting to be written; enough for a burst of writes while the disk is slow.</summary>
    private const int Capacity = 10_000;

    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(Capacity) { SingleReader = true });
    private readonly string _path;
    private readonly long _maxBytes;
    private readonly int _maxBackups;
    private readonly Task _writer;
    private FileStream? _file;

    public AuditLogWriter(string path, long maxBytes, int maxBackups)
    {
        _path = Path.GetFullPath(path);
        _maxBytes = maxBytes;
        _maxBackups = maxBackups;
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Queues one line (without its newline); waits only while the channel is full.</summary>
    public ValueTask WriteAsync(string line) => _lines.Writer.WriteAsync(line);

    /// <summary>Writes what is queued, then closes the file: the host's shutdown loses no event.</summary>
    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _writer;
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            while (await _lines.Reader.WaitToReadAsync())
            {
                while (_lines.Reader.TryRead(out var line))
                {
                    var bytes = Encoding.UTF8.GetBytes(line + "\n");
                    var file = _file ??= Open();
                    if (file.Length > 0 && file.Length + bytes.Length > _maxBytes)
                    {
                        await file.DisposeAsync();
                        Rotate();
                        file = _file = Open();
                    }
                    await file.WriteAsync(bytes);
                }
                await _file!.FlushAsync();
            }
        }
        finally
        {
            if (_file is not null)
            {
                await _file.DisposeAsync();
            }
        }
    }

    private FileStream Open() => new(_path, FileMode.Append, FileAccess.Write, FileShare.Read);

    private void Rotate()
    {
        if (_maxBackups <= 0)
        {
            File.Delete(_path);
            return;
        }
        File.Delete($"{_path}.{_maxBackups}");
        for (var i = _maxBackups - 1; i >= 1; i--)
        {
            if (File.Exists($"{_path}.{i}"))
            {
                File.Move($"{_path}.{i}", $"{_path}.{i + 1}");
            }
        }
        File.Move(_path, $"{_path}.1");
    }
}
