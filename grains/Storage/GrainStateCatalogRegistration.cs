using Microsoft.Extensions.DependencyInjection;
using Orleans.Providers;

namespace Orchestrator.Grains.Storage;

/// <summary>How a storage provider makes its <see cref="IGrainStateCatalog"/> known: keyed by the
/// provider's name, and unkeyed for the default provider (or the first one, when no provider is
/// the default), so that index grains find the catalog of the storage their objects live in.</summary>
public static class GrainStateCatalogRegistration
{
    public static IServiceCollection AddGrainStateCatalog(this IServiceCollection services, string name, Func<IServiceProvider, string, IGrainStateCatalog> create)
    {
        services.AddKeyedSingleton(name, (provider, key) => create(provider, (string)key!));
        var unkeyed = services.FirstOrDefault(d => d.ServiceType == typeof(IGrainStateCatalog) && !d.IsKeyedService);
        var isDefault = string.Equals(name, ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME, StringComparison.Ordinal);
        if (unkeyed is null || isDefault)
        {
            if (unkeyed is not null)
            {
                services.Remove(unkeyed);
            }
            services.AddSingleton(provider => provider.GetRequiredKeyedService<IGrainStateCatalog>(name));
        }
        return services;
    }
}
