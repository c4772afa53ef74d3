using System.Text;
using Orchestrator.GrainInterfaces;
using Orchestrator.NodeProtocol;

namespace Orchestrator.NodeAgent.Runtime.Containerd;

/// <summary>
/// Container log files: containerd's shim appends the container's stdout and stderr to one file
/// per container attempt (<c>ctr run --log-uri file://...</c>), so the previous attempt's log is
/// still there after a restart. Reads follow <see cref="LogRequest"/>: from a byte offset, or the
/// last N lines, at most MaxBytes, never splitting a UTF-8 character.
/// </summary>
internal sealed class ContainerLogs(string directory)
{
    private const int TailBlock = 8192;

    public string Directory { get; } = directory;

    public string PodDirectory(string podUid) => Path.Combine(Directory, podUid);

    public string PathFor(string podUid, string containerName, int attempt) =>
        Path.Combine(PodDirectory(podUid), containerName, $"{attempt}.log");

    /// <summary>Makes the container's log file exist and be empty (an id can be reused after a
    /// start that failed half-way).</summary>
    public string Prepare(string podUid, string containerName, int attempt)
    {
        var path = PathFor(podUid, containerName, attempt);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, []);
        return path;
    }

    public void Delete(string podUid, string containerName, int attempt)
    {
        var path = PathFor(podUid, containerName, attempt);
        File.Delete(path);
        // Leave no empty directories behind once a pod's last container is gone.
        foreach (var dir in new[] { Path.GetDirectoryName(path)!, PodDirectory(podUid) })
        {
            try
            {
                if (System.IO.Directory.Exists(dir) && !System.IO.Directory.EnumerateFileSystemEntries(dir).Any())
                {
                    System.IO.Directory.Delete(dir);
                }
            }
            catch (IOException)
            {
                // Another attempt's log appeared meanwhile: the directory stays.
            }
        }
    }

    public async Task<LogChunk> ReadAsync(string path, LogRequest request, bool running, CancellationToken cancellationToken)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // The container exists but has written nothing yet (or its log was lost).
            return new LogChunk { Found = true, Running = running, NextOffset = request.Offset ?? 0 };
        }
        await using (stream)
        {
            var length = stream.Length;
            long start;
            if (request.Offset is { } offset)
            {
                // A log never shrinks while its container exists; past the end means nothing new.
                start = Math.Clamp(offset, 0, length);
            }
            else if (request.TailLines is { } lines)
            {
                start = await TailStartAsync(stream, length, lines, cancellationToken);
            }
            else
            {
                start = 0;
            }
            var count = (int)Math.Min(length - start, Math.Max(request.MaxBytes, 0));
            var buffer = new byte[count];
            stream.Position = start;
            var read = 0;
            while (read < count)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read, count - read), cancellationToken);
                if (n == 0)
                {
                    break;
                }
                read += n;
            }
            var complete = CompleteUtf8Length(buffer.AsSpan(0, read));
            return new LogChunk
            {
                Found = true,
                Running = running,
                Text = Encoding.UTF8.GetString(buffer, 0, complete),
                NextOffset = start + complete,
            };
        }
    }

    /// <summary>The offset where the last <paramref name="lines"/> lines start; a final newline
    /// ends the last line rather than starting an empty one.</summary>
    internal static async Task<long> TailStartAsync(Stream stream, long length, int lines, CancellationToken cancellationToken)
    {
        if (lines <= 0)
        {
            return length;
        }
        var buffer = new byte[TailBlock];
        var position = length;
        var newlines = 0;
        var skipFinal = true;
        while (position > 0)
        {
            var size = (int)Math.Min(TailBlock, position);
            position -= size;
            stream.Position = position;
            await stream.ReadExactlyAsync(buffer.AsMemory(0, size), cancellationToken);
            for (var i = size - 1; i >= 0; i--)
            {
                if (buffer[i] != (byte)'\n')
                {
                    skipFinal = false;
                    continue;
                }
                if (skipFinal)
                {
                    skipFinal = false;
                    continue;
                }
                if (++newlines == lines)
                {
                    return position + i + 1;
                }
            }
        }
        return 0;
    }

    /// <summary>How many bytes of <paramref name="bytes"/> hold whole UTF-8 characters: a
    /// character cut by MaxBytes or by a write in progress is left for the next read.</summary>
    internal static int CompleteUtf8Length(ReadOnlySpan<byte> bytes)
    {
        var end = bytes.Length;
        // Walk back over at most 3 continuation bytes to the lead byte of the last character.
        for (var i = end - 1; i >= 0 && i >= end - 4; i--)
        {
            var b = bytes[i];
            if ((b & 0xC0) == 0x80)
            {
                continue;
            }
            var needed = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
            return end - i >= needed ? end : i;
        }
        return end;
    }
}
