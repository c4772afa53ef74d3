using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Providers;
using Orleans.Runtime.Hosting;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Orchestrator.Grains.Storage;

/// <summary>
/// Registers the embedded profile's SQLite grain storage, object store and reminder table.
/// All of them share one <see cref="SqliteDatabase"/> singleton.
/// </summary>
/// <remarks>
/// Each configure delegate is applied to the provider's named options (its serializer) and to the
/// unnamed options the shared database opens with, so every call that sets
/// <see cref="SqliteStorageOptions.DataDirectory"/> should set the same one (the last one wins).
/// </remarks>
public static class SqliteStorageHostingExtensions
{
    /// <summary>Adds SQLite grain storage as the default provider (the one grains get without a storage name).</summary>
    public static ISiloBuilder AddSqliteGrainStorageAsDefault(this ISiloBuilder builder, Action<SqliteStorageOptions>? configure = null)
        => builder.AddSqliteGrainStorage(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME, configure);

    /// <summary>Adds SQLite grain storage named <paramref name="name"/>.</summary>
    public static ISiloBuilder AddSqliteGrainStorage(this ISiloBuilder builder, string name, Action<SqliteStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.ConfigureServices(services => services.AddSqliteGrainStorage(name, configure));
    }

    /// <summary>Adds the object store (objects and their change feed) in the SQLite database.</summary>
    public static ISiloBuilder AddSqliteObjectStore(this ISiloBuilder builder, Action<SqliteStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.ConfigureServices(services =>
        {
            services.AddSqliteDatabase(configure);
            services.AddSingleton<Store.IObjectStore, Store.SqliteObjectStore>();
        });
    }

    /// <summary>Adds reminders to the silo, stored in the SQLite database.</summary>
    public static ISiloBuilder UseSqliteReminderService(this ISiloBuilder builder, Action<SqliteStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddReminders().ConfigureServices(services => services.UseSqliteReminderService(configure));
    }

    /// <summary>Adds SQLite grain storage as the default provider.</summary>
    public static IServiceCollection AddSqliteGrainStorageAsDefault(this IServiceCollection services, Action<SqliteStorageOptions>? configure = null)
        => services.AddSqliteGrainStorage(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME, configure);

    /// <summary>
    /// Adds SQLite grain storage named <paramref name="name"/>: a keyed <see cref="IGrainStorage"/>
    /// (registered like Orleans' own providers).
    /// </summary>
    public static IServiceCollection AddSqliteGrainStorage(this IServiceCollection services, string name, Action<SqliteStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);

        services.AddSqliteDatabase(configure);
        var options = services.AddOptions<SqliteStorageOptions>(name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Transient<
            IPostConfigureOptions<SqliteStorageOptions>,
            DefaultStorageProviderSerializerOptionsConfigurator<SqliteStorageOptions>>());
        services.ConfigureNamedOptionForLogging<SqliteStorageOptions>(name);
        services.AddGrainStorage(name, CreateGrainStorage);
        return services;
    }

    /// <summary>Adds the SQLite reminder table (and reminders) to a silo's services.</summary>
    public static IServiceCollection UseSqliteReminderService(this IServiceCollection services, Action<SqliteStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddReminders();
        services.AddSqliteDatabase(configure);

        // Not TryAdd: this replaces whatever reminder table was registered before, as Orleans' own
        // Use*ReminderService methods do.
        services.AddSingleton<IReminderTable, SqliteReminderTable>();
        return services;
    }

    private static void AddSqliteDatabase(this IServiceCollection services, Action<SqliteStorageOptions>? configure)
    {
        var options = services.AddOptions<SqliteStorageOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SqliteStorageOptions>, SqliteStorageOptionsValidator>());
        services.TryAddSingleton<SqliteDatabase>();
    }

    private static SqliteGrainStorage CreateGrainStorage(IServiceProvider services, string name) => new(
        name,
        services.GetRequiredService<IOptionsMonitor<SqliteStorageOptions>>().Get(name),
        services.GetRequiredService<SqliteDatabase>(),
        services.GetRequiredService<ILogger<SqliteGrainStorage>>(),
        services.GetService<IActivatorProvider>());
}
