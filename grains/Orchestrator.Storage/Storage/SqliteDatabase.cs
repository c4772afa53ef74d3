using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Orchestrator.Grains.Storage;

/// <summary>
/// The embedded profile's SQLite database (<c>{DataDirectory}/orchestrator.db</c>), shared by the
/// grain storage providers, the grain state catalog and the reminder table.
/// </summary>
/// <remarks>
/// <para>
/// Durability: WAL journal with <c>synchronous=NORMAL</c>. A commit is appended to the WAL file
/// before the write's task completes, so it survives the process being killed (kill -9); only an
/// operating-system crash or power loss can lose the last commits, because the WAL is fsynced at
/// checkpoints rather than at every commit. That is the trade the embedded profile makes for
/// throughput.
/// </para>
/// <para>
/// Writes: SQLite allows one writer at a time, so every write goes through one connection owned by
/// one thread. Callers enqueue; the writer takes everything queued (up to
/// <see cref="SqliteStorageOptions.MaxWriteBatchSize"/>) and commits it as one transaction (group
/// commit), then completes each caller's task with its own result. Each write runs inside its own
/// savepoint, so one that throws (an ETag conflict) is rolled back alone.
/// </para>
/// <para>Reads: pooled connections, which WAL lets run concurrently with the writer.</para>
/// </remarks>
public sealed partial class SqliteDatabase : IDisposable, IAsyncDisposable
{
    private readonly ILogger<SqliteDatabase> _logger;
    private readonly int _maxBatchSize;
    private readonly string _readConnectionString;
    private readonly SqliteConnection _writer;
    private readonly SqliteWriteContext _writeContext;
    private readonly Channel<WriteItem> _queue = Channel.CreateUnbounded<WriteItem>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });

    private readonly Thread _writerThread;
    private readonly TaskCompletionSource _writerStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;
    private long _committedBatches;

    /// <summary>Opens (creating if needed) the database and brings its schema up to <see cref="SchemaVersion"/>.</summary>
    public SqliteDatabase(IOptions<SqliteStorageOptions> options, ILogger<SqliteDatabase> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;

        var settings = options.Value;
        var validation = new SqliteStorageOptionsValidator().Validate(Options.DefaultName, settings);
        if (validation.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(SqliteStorageOptions), validation.Failures);
        }

        _maxBatchSize = settings.MaxWriteBatchSize;
        DatabasePath = settings.GetDatabasePath();
        var directory = Path.GetDirectoryName(DatabasePath)!;
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException(
                $"Cannot create the data directory {directory}: {exception.Message} "
                + $"Set {nameof(SqliteStorageOptions)}.{nameof(SqliteStorageOptions.DataDirectory)} to a writable directory.",
                exception);
        }

        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            // Microsoft.Data.Sqlite retries SQLITE_BUSY on its own until the command timeout; keep
            // that bound in line with busy_timeout instead of its 30 s default.
            DefaultTimeout = Math.Max(1, (int)Math.Ceiling(settings.BusyTimeout.TotalSeconds)),
        };
        _readConnectionString = connectionString.ToString();

        // The writer lives as long as the database; keeping it out of the pool means ClearPool at
        // dispose only has idle readers to close.
        connectionString.Pooling = false;
        _writer = new SqliteConnection(connectionString.ToString());
        try
        {
            _writer.Open();
            ConfigureWriter(settings.BusyTimeout);
            Migrate();
        }
        catch
        {
            _writer.Dispose();
            throw;
        }

        _writeContext = new SqliteWriteContext(_writer);
        LogOpened(_logger, DatabasePath, SchemaVersion, _writer.ServerVersion);

        // A dedicated thread rather than a thread-pool loop: a batch is synchronous SQLite work, and
        // a busy silo on two cores must not delay every write's commit waiting for a pool thread.
        _writerThread = new Thread(RunWriter) { IsBackground = true, Name = "sqlite-writer" };
        _writerThread.Start();
    }

    /// <summary>Absolute path of the database file.</summary>
    public string DatabasePath { get; }

    /// <summary>Batches committed so far; lets tests tell which writes shared a transaction.</summary>
    internal long CommittedBatchCount => Interlocked.Read(ref _committedBatches);

    /// <summary>
    /// Queues a write and completes when the batch that ran it has committed, with the operation's
    /// result or the exception it threw. The operation runs on the writer thread inside the batch's
    /// transaction: it must be quick, synchronous and touch the database only through
    /// <paramref name="operation"/>'s context. A write whose token is cancelled before the writer
    /// reaches it is skipped; once it has run, it commits regardless.
    /// </summary>
    internal Task<TResult> WriteAsync<TResult>(Func<SqliteWriteContext, TResult> operation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TResult>(cancellationToken);
        }

        var item = new WriteItem<TResult>(operation, cancellationToken);
        if (!_queue.Writer.TryWrite(item))
        {
            return Task.FromException<TResult>(new ObjectDisposedException(nameof(SqliteDatabase)));
        }

        return item.Completion;
    }

    /// <summary>Opens a pooled read connection; dispose it to return it to the pool.</summary>
    internal async ValueTask<SqliteConnection> OpenReadConnectionAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var connection = new SqliteConnection(_readConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Commits every write already queued, then closes the database.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _queue.Writer.TryComplete();
        await _writerStopped.Task.ConfigureAwait(false);
        Close();
    }

    /// <summary>Commits every write already queued, then closes the database.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _queue.Writer.TryComplete();
        _writerThread.Join();
        Close();
    }

    private void ConfigureWriter(TimeSpan busyTimeout)
    {
        // busy_timeout first: switching the journal mode needs the lock another process may hold.
        Execute(_writer, $"PRAGMA busy_timeout = {(long)busyTimeout.TotalMilliseconds};");
        var journalMode = Convert.ToString(ExecuteScalar(_writer, "PRAGMA journal_mode = WAL;"), CultureInfo.InvariantCulture);
        if (!string.Equals(journalMode, "wal", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException(
                $"SQLite could not put {DatabasePath} in WAL mode (journal_mode is '{journalMode}'). "
                + $"Set {nameof(SqliteStorageOptions)}.{nameof(SqliteStorageOptions.DataDirectory)} to a directory on a local file system.");
        }

        Execute(_writer, "PRAGMA synchronous = NORMAL;");

        // The WAL file keeps its largest size after a checkpoint unless capped; a burst of writes
        // would otherwise leave a large file behind for good.
        Execute(_writer, "PRAGMA journal_size_limit = 67108864;");
    }

    private void RunWriter()
    {
        var batch = new List<WriteItem>(_maxBatchSize);
        var reader = _queue.Reader;
        try
        {
            while (WaitForWrites(reader))
            {
                while (batch.Count < _maxBatchSize && reader.TryRead(out var item))
                {
                    batch.Add(item);
                }

                try
                {
                    ExecuteBatch(batch);
                }
                catch (Exception exception)
                {
                    // ExecuteBatch handles SQLite's failures itself; this is the net for a bug, so
                    // that no caller waits forever and the writer keeps serving the next batch.
                    LogBatchFailed(_logger, exception, batch.Count, DatabasePath);
                    foreach (var item in batch)
                    {
                        item.Publish(exception);
                    }
                }
                finally
                {
                    batch.Clear();
                }
            }
        }
        finally
        {
            _writerStopped.TrySetResult();
        }
    }

    private static bool WaitForWrites(ChannelReader<WriteItem> reader)
    {
        var wait = reader.WaitToReadAsync();
        return wait.IsCompleted ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
    }

    private void ExecuteBatch(List<WriteItem> batch)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            _writeContext.Begin();
            foreach (var item in batch)
            {
                if (item.CancellationToken.IsCancellationRequested)
                {
                    item.Canceled = true;
                    continue;
                }

                _writeContext.Savepoint();
                try
                {
                    item.Execute(_writeContext);
                    _writeContext.ReleaseSavepoint();
                }
                catch (Exception exception)
                {
                    // If the savepoint cannot be rolled back, SQLite has already abandoned the
                    // transaction: this throws and the whole batch fails below.
                    _writeContext.RollbackToSavepoint();
                    item.Failure = exception;
                }
            }

            _writeContext.Commit();
        }
        catch (Exception exception)
        {
            _writeContext.TryRollback();
            LogBatchFailed(_logger, exception, batch.Count, DatabasePath);
            foreach (var item in batch)
            {
                item.Publish(exception);
            }

            return;
        }

        Interlocked.Increment(ref _committedBatches);
        foreach (var action in _writeContext.TakeCommitted())
        {
            action();
        }
        foreach (var item in batch)
        {
            item.Publish(batchFailure: null);
        }

        LogBatchCommitted(_logger, batch.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private void Close()
    {
        _writeContext.Dispose();
        _writer.Dispose();
        using (var pooled = new SqliteConnection(_readConnectionString))
        {
            SqliteConnection.ClearPool(pooled);
        }

        LogClosed(_logger, DatabasePath);
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? ExecuteScalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private abstract class WriteItem(CancellationToken cancellationToken)
    {
        public CancellationToken CancellationToken { get; } = cancellationToken;

        public bool Canceled { get; set; }

        public Exception? Failure { get; set; }

        public abstract void Execute(SqliteWriteContext context);

        /// <summary>Completes the caller's task; called only once the batch's fate is known.</summary>
        public abstract void Publish(Exception? batchFailure);
    }

    private sealed class WriteItem<TResult>(Func<SqliteWriteContext, TResult> operation, CancellationToken cancellationToken)
        : WriteItem(cancellationToken)
    {
        // Continuations run on the pool, never inline on the writer thread.
        private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TResult? _result;

        public Task<TResult> Completion => _completion.Task;

        public override void Execute(SqliteWriteContext context) => _result = operation(context);

        public override void Publish(Exception? batchFailure)
        {
            if (Canceled)
            {
                _completion.TrySetCanceled(CancellationToken);
            }
            else if (Failure is not null)
            {
                // Its own failure explains it even when the batch failed too: it would not have
                // committed either way.
                _completion.TrySetException(Failure);
            }
            else if (batchFailure is not null)
            {
                _completion.TrySetException(batchFailure);
            }
            else
            {
                _completion.TrySetResult(_result!);
            }
        }
    }
}
