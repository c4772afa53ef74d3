using Microsoft.Extensions.Options;

namespace Orchestrator.Grains.Storage;

/// <summary>Rejects <see cref="SqliteStorageOptions"/> the database cannot open with, saying what to set.</summary>
public sealed class SqliteStorageOptionsValidator : IValidateOptions<SqliteStorageOptions>
{
    /// <summary>Upper bound of <see cref="SqliteStorageOptions.MaxWriteBatchSize"/>.</summary>
    public const int MaxWriteBatchSizeLimit = 10_000;

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SqliteStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();

        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            failures.Add(
                $"{nameof(SqliteStorageOptions)}.{nameof(SqliteStorageOptions.DataDirectory)} is empty: "
                + "set it to a writable directory for the SQLite database (default \"data\", relative to the current directory).");
        }
        else if (options.DataDirectory.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            failures.Add(
                $"{nameof(SqliteStorageOptions)}.{nameof(SqliteStorageOptions.DataDirectory)} \"{options.DataDirectory}\" "
                + "contains characters not allowed in a path: set it to a valid directory path.");
        }

        if (options.BusyTimeout < TimeSpan.Zero || options.BusyTimeout > TimeSpan.FromMilliseconds(int.MaxValue))
        {
            failures.Add(
                $"{nameof(SqliteStorageOptions)}.{nameof(SqliteStorageOptions.BusyTimeout)} is {options.BusyTimeout}: "
                + "set it to a non-negative duration, e.g. 00:00:05.");
        }

        if (options.MaxWriteBatchSize is < 1 or > MaxWriteBatchSizeLimit)
        {
            failures.Add(
                $"{nameof(SqliteStorageOptions)}.{nameof(SqliteStorageOptions.MaxWriteBatchSize)} is {options.MaxWriteBatchSize}: "
                + $"set it between 1 and {MaxWriteBatchSizeLimit} (default 256).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
