using System.Data.Common;
using Npgsql;
using Orchestrator.Model;

namespace Orchestrator.Grains.Storage.Postgres;

/// <summary>
/// What the cluster profile's storage does with database failures: turns them into
/// <see cref="StoreException"/> (Npgsql's exceptions cannot cross a grain call), and retries once
/// an operation that failed on a connection PostgreSQL had already closed.
/// </summary>
internal static class PostgresFailures
{
    /// <summary>
    /// Runs <paramref name="operation"/>; when it fails on a dead connection, clears the pool and
    /// runs it once more, then translates whatever failure remains.
    /// </summary>
    /// <remarks>
    /// After PostgreSQL restarts, every idle pooled connection is dead and fails the next
    /// statement sent on it (57P01 "terminating connection due to administrator command", or end
    /// of stream). The statement never ran, so it is safe to repeat; even in the rare race where
    /// a write committed just before the connection died, repeating it fails its ETag check
    /// (a conflict, which the grain resolves by reloading) rather than applying twice.
    /// </remarks>
    public static async Task<T> RunAsync<T>(NpgsqlDataSource dataSource, Func<Task<T>> operation)
    {
        try
        {
            return await operation();
        }
        catch (Exception ex) when (IsDeadConnection(ex))
        {
            dataSource.Clear();
        }
        catch (Exception ex) when (Translate(ex) is { } translated)
        {
            throw translated;
        }

        try
        {
            return await operation();
        }
        catch (Exception ex) when (Translate(ex) is { } translated)
        {
            throw translated;
        }
    }

    public static Task RunAsync(NpgsqlDataSource dataSource, Func<Task> operation) =>
        RunAsync(dataSource, async () =>
        {
            await operation();
            return true;
        });

    /// <summary>A <see cref="StoreException"/> for a database failure found in
    /// <paramref name="ex"/> or its inner exceptions; null when there is none (Orleans' own
    /// exceptions, such as an ETag conflict, pass through unchanged).</summary>
    public static StoreException? Translate(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is DbException db)
            {
                var sqlState = (db as PostgresException)?.SqlState;
                return new StoreException($"{db.GetType().Name}: {db.Message}", db.IsTransient, sqlState);
            }
        }
        return null;
    }

    /// <summary>The failure happened because the connection was already gone.</summary>
    public static bool IsDeadConnection(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException pg when pg.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown:
                    return true;
                case NpgsqlException { InnerException: IOException or EndOfStreamException }:
                    return true;
            }
        }
        return false;
    }
}
