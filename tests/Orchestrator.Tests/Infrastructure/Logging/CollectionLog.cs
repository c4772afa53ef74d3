using System.Globalization;
using System.Text;

namespace Orchestrator.Tests.Infrastructure.Logging;

/// <summary>
/// Where the logs of one test collection go: while a test runs, into that test's own file
/// (<c>test-logs/&lt;Class&gt;.&lt;Method&gt;.log</c> next to the test assembly); between tests
/// (fixtures starting and stopping), into the collection's file. The console of a test run
/// shows tests and results only; a failed test's result carries the tail of its file
/// (ReportingTestFramework).
/// </summary>
/// <remarks>
/// xunit runs the tests of a collection one at a time and collections in parallel, so a log
/// that belongs to a collection (its fixture's silo, the agents and processes its tests start)
/// is attributed to the test running in that collection. The collection is found through an
/// <see cref="AsyncLocal{T}"/> the runner sets before it creates the fixtures, captured by
/// whatever logs on its behalf when that is created (<see cref="Current"/>).
/// </remarks>
public sealed class CollectionLog
{
    private static readonly AsyncLocal<CollectionLog?> s_current = new();
    private static readonly HashSet<string> s_fileNames = new(StringComparer.Ordinal);

    /// <summary>Set when the test framework starts; elsewhere (the benchmarks, which share the
    /// process helpers) nothing is written.</summary>
    private static volatile bool s_enabled;

    private readonly Lock _lock = new();
    private readonly string _collectionPath;
    private StreamWriter? _collectionFile;
    private StreamWriter? _testFile;
    private bool _closed;
    private string? _testPath;
    private string _testName = "";

    private CollectionLog(string collectionName)
    {
        _collectionPath = Path.Combine(Directory, UniqueFileName("collection " + collectionName));
    }

    /// <summary>The folder of the log files, emptied when a run starts.</summary>
    public static string Directory { get; } = Path.Combine(AppContext.BaseDirectory, "test-logs");

    /// <summary>For logs written outside any collection (nothing should be).</summary>
    public static CollectionLog Process { get; } = new("none");

    /// <summary>The log of the collection this code runs for.</summary>
    public static CollectionLog Current => s_current.Value ?? Process;

    /// <summary>Empties the folder of an earlier run.</summary>
    internal static void Reset()
    {
        s_enabled = true;
        System.IO.Directory.CreateDirectory(Directory);
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "*.log"))
        {
            try
            {
                File.Delete(file);
            }
            catch (IOException)
            {
                // A run still writing it (two runs at once): its file, not ours.
            }
        }
    }

    /// <summary>Makes <paramref name="log"/> the current log of the calling flow and the code
    /// it starts (the collection runner sets it before the fixtures are created).</summary>
    internal static CollectionLog Enter(string collectionName) => s_current.Value = new CollectionLog(collectionName);

    /// <summary>Appends one line from <paramref name="source"/> (a silo, an agent, a process).</summary>
    public void WriteLine(string source, string line) =>
        Write(string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:HH:mm:ss.fff} [{source}] {line}\n"));

    /// <summary>Appends text as it is (console output, the test's own output).</summary>
    public void Write(string text)
    {
        if (text.Length == 0 || !s_enabled)
        {
            return;
        }
        lock (_lock)
        {
            StreamWriter file;
            if (_closed)
            {
                // Its collection is done; something of it still logs while it stops.
                File.AppendAllText(_collectionPath, text);
                return;
            }
            if (_testPath is null)
            {
                file = _collectionFile ??= Open(_collectionPath);
            }
            else if (_testFile is null)
            {
                // Opened at the first line: a test that logs nothing leaves no file.
                file = _testFile = Open(_testPath);
                file.Write($"### {DateTime.UtcNow:HH:mm:ss.fff} {_testName}\n");
            }
            else
            {
                file = _testFile;
            }
            file.Write(text);
        }
    }

    internal void BeginTest(string className, string methodName, string displayName)
    {
        var name = $"{className[(className.LastIndexOf('.') + 1)..]}.{methodName}";
        var arguments = displayName.IndexOf('(', StringComparison.Ordinal);
        if (arguments >= 0)
        {
            // A theory's case: its arguments tell the files apart.
            name += displayName[arguments..];
        }
        lock (_lock)
        {
            _testFile?.Dispose();
            _testFile = null;
            _testName = displayName;
            _testPath = Path.Combine(Directory, UniqueFileName(name));
        }
    }

    internal void EndTest()
    {
        lock (_lock)
        {
            _testFile?.Dispose();
            _testFile = null;
            _testPath = null;
            _collectionFile?.Flush();
        }
    }

    /// <summary>When the collection has run (its fixtures are disposed): the files are complete.</summary>
    internal void Close()
    {
        lock (_lock)
        {
            EndTest();
            _collectionFile?.Dispose();
            _collectionFile = null;
            _closed = true;
        }
    }

    /// <summary>What a failed test's result adds to its output: where its log is, and its last lines.</summary>
    internal string FailureReport(int lines = 120)
    {
        var report = new StringBuilder();
        lock (_lock)
        {
            _testFile?.Flush();
            _collectionFile?.Flush();
            if (_testFile is null || _testPath is null)
            {
                report.Append("\n----- this test logged nothing -----\n");
            }
            else
            {
                var all = File.ReadAllLines(_testPath);
                report.Append(CultureInfo.InvariantCulture, $"\n----- the log of this test: {_testPath} ({all.Length} lines; the last {Math.Min(lines, all.Length)}) -----\n");
                foreach (var line in all.TakeLast(lines))
                {
                    report.Append(line).Append('\n');
                }
            }
            if (File.Exists(_collectionPath))
            {
                report.Append(CultureInfo.InvariantCulture, $"----- what its collection logged between tests (fixtures): {_collectionPath} -----\n");
            }
        }
        return report.ToString();
    }

    private static StreamWriter Open(string path) =>
        new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete), new UTF8Encoding(false));

    private static string UniqueFileName(string name)
    {
        var safe = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            safe.Append(char.IsLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_');
        }
        var stem = safe.Length > 150 ? safe.ToString(0, 150) : safe.ToString();
        lock (s_fileNames)
        {
            var candidate = stem;
            for (var n = 2; !s_fileNames.Add(candidate); n++)
            {
                candidate = $"{stem}-{n}";
            }
            return candidate + ".log";
        }
    }
}
