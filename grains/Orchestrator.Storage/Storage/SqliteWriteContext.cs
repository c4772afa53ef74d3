using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Orchestrator.Grains.Storage;

/// <summary>
/// What a queued write sees while it runs on the writer thread, inside the batch transaction.
/// Not thread-safe: only the writer thread uses it.
/// </summary>
internal sealed class SqliteWriteContext : IDisposable
{
    private const string VersionSequence = "version";

    private readonly SqliteConnection _connection;

    // Microsoft.Data.Sqlite keeps a command's prepared statement until its text changes, so one
    // command per distinct SQL text compiles each statement once for the database's life instead
    // of once per write. That includes BEGIN/SAVEPOINT/COMMIT, which is why the batch does not use
    // SqliteTransaction: its Save/Release/Commit compile a new statement on every call.
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    private readonly List<Action> _afterCommit = [];
    private int _itemStart;

    private long _version;
    private bool _versionLoaded;
    private bool _versionAdvanced;

    public SqliteWriteContext(SqliteConnection connection) => _connection = connection;

    /// <summary>
    /// The cached command for <paramref name="sql"/>, with its parameters cleared. Callers must
    /// finish with it (execute it, dispose any reader) before asking for another one.
    /// </summary>
    public SqliteCommand Command(string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = _connection.CreateCommand();
            command.CommandText = sql;
            _commands.Add(sql, command);
        }

        command.Parameters.Clear();
        return command;
    }

    /// <summary>
    /// The next value of the database-wide version sequence. A committed value is never committed
    /// again; a write rolled back alone leaves a gap, which is harmless.
    /// </summary>
    public long NextVersion()
    {
        if (!_versionLoaded)
        {
            var command = Command("SELECT value FROM sequences WHERE name = $name;");
            command.Parameters.AddWithValue("$name", VersionSequence);
            _version = (long)command.ExecuteScalar()!;
            _versionLoaded = true;
        }

        _versionAdvanced = true;
        return ++_version;
    }

    /// <summary>Runs <paramref name="action"/> on the writer thread once the batch has committed
    /// (never when this write or its batch is rolled back), in the order writes ran.</summary>
    public void OnCommitted(Action action) => _afterCommit.Add(action);

    /// <summary>The actions of the batch that committed; cleared for the next batch.</summary>
    internal List<Action> TakeCommitted()
    {
        var actions = _afterCommit.ToList();
        _afterCommit.Clear();
        return actions;
    }

    internal void Begin()
    {
        _afterCommit.Clear();
        // Reload the sequence in every batch: holding the write lock, the stored value is current
        // even if another connection (another process on the same file) wrote in between.
        _versionLoaded = false;
        _versionAdvanced = false;
        Command("BEGIN IMMEDIATE;").ExecuteNonQuery();
    }

    internal void Savepoint()
    {
        _itemStart = _afterCommit.Count;
        Command("SAVEPOINT write;").ExecuteNonQuery();
    }

    internal void ReleaseSavepoint() => Command("RELEASE write;").ExecuteNonQuery();

    internal void RollbackToSavepoint()
    {
        _afterCommit.RemoveRange(_itemStart, _afterCommit.Count - _itemStart);
        Command("ROLLBACK TO write;").ExecuteNonQuery();
        Command("RELEASE write;").ExecuteNonQuery();
    }

    internal void Commit()
    {
        if (_versionAdvanced)
        {
            var command = Command("UPDATE sequences SET value = $value WHERE name = $name;");
            command.Parameters.AddWithValue("$value", _version);
            command.Parameters.AddWithValue("$name", VersionSequence);
            command.ExecuteNonQuery();
        }

        Command("COMMIT;").ExecuteNonQuery();
    }

    internal void TryRollback()
    {
        // SQLite rolls back by itself after some errors (disk full, I/O error); then there is
        // nothing left to roll back.
        if (InTransaction(_connection))
        {
            Command("ROLLBACK;").ExecuteNonQuery();
        }
    }

    internal static bool InTransaction(SqliteConnection connection) => raw.sqlite3_get_autocommit(connection.Handle) == 0;

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
    }
}
