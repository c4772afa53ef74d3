using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Providers;
using Orleans.Storage;

namespace Orchestrator.Grains.Storage.Postgres;

/// <summary>
/// Registers the cluster profile's PostgreSQL grain storage (Orleans' ADO.NET provider through
/// <see cref="PostgresGrainStorage"/>), the object store, and the ADO.NET
/// reminder table. All share one <see cref="NpgsqlDataSource"/> (one connection pool) and the
/// schema migration that runs when the silo starts.
/// </summary>
/// <remarks>
/// Each configure delegate applies to the one unnamed <see cref="PostgresStorageOptions"/> the
/// shared data source is built from, so every call should set the same connection string.
/// </remarks>
public static class PostgresStorageHostingExtensions
{
    /// <summary>Adds PostgreSQL grain storage named <paramref name="name"/>.</summary>
    public static ISiloBuilder AddPostgresGrainStorage(this ISiloBuilder builder, string name, Action<PostgresStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.ConfigureServices(services => services.AddPostgresGrainStorage(name, configure));
    }

    /// <summary>Adds the object store (objects and their change feed) in PostgreSQL.</summary>
    public static ISiloBuilder AddPostgresObjectStore(this ISiloBuilder builder, Action<PostgresStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.ConfigureServices(services =>
        {
            services.AddPostgresDatabase(configure);
            services.AddSingleton<Store.IObjectStore, Store.PostgresObjectStore>();
        });
    }

    /// <summary>Adds reminders to the silo, stored in PostgreSQL.</summary>
    public static ISiloBuilder UsePostgresReminderService(this ISiloBuilder builder, Action<PostgresStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.ConfigureServices(services => services.UsePostgresReminderService(configure));
    }

    /// <summary>
    /// Adds grain storage named <paramref name="name"/>: Orleans' ADO.NET provider with the Npgsql
    /// invariant, registered by Orleans' own extension and then wrapped in
    /// <see cref="PostgresGrainStorage"/>.
    /// </summary>
    public static IServiceCollection AddPostgresGrainStorage(this IServiceCollection services, string name, Action<PostgresStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        services.AddPostgresDatabase(configure);

        services.AddAdoNetGrainStorage(name, options => options.Configure<NpgsqlDataSource>((o, dataSource) =>
        {
            o.Invariant = PostgresStorageOptions.Invariant;
            o.DataSource = dataSource;
            // Deleted objects leave no row behind (DeleteStorageKey rather than ClearStorageKey).
            o.DeleteStateOnClear = true;
        }));
        var adoNet = services.Last(d => d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, name));
        services.Remove(adoNet);
        // Orleans' registration also resolves this key as the provider's lifecycle participant;
        // the wrapper passes that on.
        services.AddKeyedSingleton<IGrainStorage>(name, (provider, key) =>
            new PostgresGrainStorage(AdoNetGrainStorageFactory.Create(provider, (string)key!), provider.GetRequiredService<NpgsqlDataSource>()));
        return services;
    }

    /// <summary>Adds the ADO.NET reminder table over PostgreSQL (and reminders) to a silo's services.</summary>
    public static IServiceCollection UsePostgresReminderService(this IServiceCollection services, Action<PostgresStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddPostgresDatabase(configure);
        // Replaces any reminder table registered before, as Orleans' Use*ReminderService methods do.
        services.UseAdoNetReminderService(options => options.Configure<NpgsqlDataSource>((o, dataSource) =>
        {
            o.Invariant = PostgresStorageOptions.Invariant;
            o.DataSource = dataSource;
        }));
        var adoNet = services.Last(d => d.ServiceType == typeof(IReminderTable) && !d.IsKeyedService);
        services.Remove(adoNet);
        services.AddSingleton<IReminderTable>(provider => new PostgresReminderTable(
            (IReminderTable)ActivatorUtilities.CreateInstance(provider, adoNet.ImplementationType!),
            provider.GetRequiredService<NpgsqlDataSource>()));
        return services;
    }

    private static void AddPostgresDatabase(this IServiceCollection services, Action<PostgresStorageOptions>? configure)
    {
        var options = services.AddOptions<PostgresStorageOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgresStorageOptions>, PostgresStorageOptionsValidator>());
        services.TryAddSingleton(provider =>
            NpgsqlDataSource.Create(provider.GetRequiredService<IOptions<PostgresStorageOptions>>().Value.EffectiveConnectionString()));
        services.TryAddSingleton<PostgresMigrator>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILifecycleParticipant<ISiloLifecycle>, PostgresMigrationStartup>());
    }
}
