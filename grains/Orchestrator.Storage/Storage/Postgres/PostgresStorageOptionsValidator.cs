using Microsoft.Extensions.Options;
using Npgsql;

namespace Orchestrator.Grains.Storage.Postgres;

/// <summary>Rejects <see cref="PostgresStorageOptions"/> the silo cannot start with, saying what to set.</summary>
public sealed class PostgresStorageOptionsValidator : IValidateOptions<PostgresStorageOptions>
{
    public ValidateOptionsResult Validate(string? name, PostgresStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add("Orchestrator:Postgres is empty: set it to an Npgsql connection string, e.g. Host=db;Database=orchestrator;Username=orchestrator;Password=...");
        }
        else
        {
            try
            {
                var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
                if (string.IsNullOrEmpty(builder.Host) || string.IsNullOrEmpty(builder.Database))
                {
                    failures.Add("Orchestrator:Postgres must name a Host and a Database, e.g. Host=db;Database=orchestrator;Username=orchestrator.");
                }
            }
            catch (ArgumentException ex)
            {
                failures.Add($"Orchestrator:Postgres is not a valid Npgsql connection string ({ex.Message}).");
            }
        }
        if (options.StartTimeout <= TimeSpan.Zero)
        {
            failures.Add("Orchestrator:PostgresStartTimeout must be positive, e.g. 00:01:00.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
