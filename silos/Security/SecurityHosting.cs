using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orchestrator.Grains.Security;
using Orchestrator.Grains.Storage.Credentials;
using Orchestrator.Silo.Hosting;
using Polly;
using Polly.Retry;

namespace Orchestrator.Silo.Security;

public static class SecurityHosting
{
    /// <summary>
    /// Loads (at the first start: makes) the cluster's credentials, serves the API over HTTPS only
    /// with a certificate of the cluster CA, asks clients for a certificate without requiring one,
    /// writes the node bootstrap token at start and the admin kubeconfig once the API listens.
    /// </summary>
    public static ClusterCredentials AddApiSecurity(this WebApplicationBuilder builder, ICredentialStore store, SiloSettings settings, TimeSpan startTimeout)
    {
        var urls = (builder.Configuration["urls"] ?? builder.Configuration["ASPNETCORE_URLS"] ?? SiloSettings.DefaultUrl)
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (urls.FirstOrDefault(u => !u.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) is { } plain)
        {
            throw new OptionsValidationException("urls", typeof(SiloSettings),
                [$"--urls {plain}: the API serves HTTPS only; give an https:// address such as {SiloSettings.DefaultUrl}."]);
        }
        var credentials = LoadCredentials(store, startTimeout);
        var security = settings.Security;
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(credentials);
        services.AddSingleton<IClusterCredentials>(credentials);
        services.AddSingleton(security);
        services.AddSingleton<ServingCertificate>();
        services.AddHostedService(sp => sp.GetRequiredService<ServingCertificate>());
        var kubeconfig = security.Kubeconfig is { Length: > 0 } k ? k : Path.Combine(Path.GetFullPath(settings.DataDirectory), "admin.kubeconfig");
        services.AddHostedService(sp => ActivatorUtilities.CreateInstance<KubeconfigWriter>(sp, kubeconfig));
        var nodeToken = security.NodeTokenFile is { Length: > 0 } n ? n : Path.Combine(Path.GetFullPath(settings.DataDirectory), "node-token");
        services.AddHostedService(sp => ActivatorUtilities.CreateInstance<NodeTokenFileWriter>(sp, nodeToken));
        builder.WebHost.ConfigureKestrel((context, kestrel) => kestrel.ConfigureHttpsDefaults(https =>
        {
            var serving = kestrel.ApplicationServices.GetRequiredService<ServingCertificate>();
            https.ServerCertificateSelector = (_, _) => serving.Current;
            // A client certificate is one way to authenticate, not the only one: ask, check it
            // against the cluster CA in the authentication step (a bad one gets 401 there).
            https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
            https.AllowAnyClientCertificate();
        }));
        return credentials;
    }

    /// <summary>Retries while the store is unreachable (PostgreSQL still starting) for up to
    /// <paramref name="startTimeout"/>; the silo cannot serve without its certificate.</summary>
    private static ClusterCredentials LoadCredentials(ICredentialStore store, TimeSpan startTimeout)
    {
        var pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException),
                MaxRetryAttempts = int.MaxValue,
                Delay = TimeSpan.FromSeconds(1),
                BackoffType = DelayBackoffType.Constant,
            })
            .AddTimeout(startTimeout)
            .Build();
        return pipeline.ExecuteAsync(async token => await ClusterCredentials.LoadOrCreateAsync(store, TimeProvider.System, token))
            .AsTask().GetAwaiter().GetResult();
    }
}
