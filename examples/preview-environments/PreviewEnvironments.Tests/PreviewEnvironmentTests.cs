using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Client;
using Orchestrator.GrainInterfaces;
using Orchestrator.Model;

namespace PreviewEnvironments.Tests;

/// <summary>
/// The sample against a real control plane: a silo process (embedded profile, in a temporary
/// directory) and the sample app in this process, connected through the Orchestrator.Client
/// package. Set ORCHESTRATOR_SILO_DLL to the silo to run; by default the repository's Release build.
/// </summary>
public sealed class PreviewEnvironmentTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly string _data = Directory.CreateTempSubdirectory("preview-sample-").FullName;
    private Process? _silo;
    private WebApplication? _app;
    private HttpClient _http = null!;

    private IOrchestratorClient Client => _app!.Services.GetRequiredService<IOrchestratorClient>();

    public async Task InitializeAsync()
    {
        var gateway = FreePort();
        var clusterId = $"sample-{Guid.NewGuid():N}";
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[]
        {
            SiloAssembly(),
            // The silo's API serves HTTPS only (it refuses to start on an http:// address). The
            // sample does not use that API: it reaches the grains through the gateway port.
            $"--urls=https://127.0.0.1:{FreePort()}",
            $"--Orchestrator:DataDirectory={_data}",
            $"--Orchestrator:SiloPort={FreePort()}",
            $"--Orchestrator:GatewayPort={gateway}",
            $"--Orchestrator:ClusterId={clusterId}",
            "--Orchestrator:Dashboard=false",
            "--Logging:LogLevel:Default=Warning",
        })
        {
            start.ArgumentList.Add(arg);
        }
        _silo = Process.Start(start)!;
        _silo.OutputDataReceived += (_, _) => { };
        _silo.ErrorDataReceived += (_, _) => { };
        _silo.BeginOutputReadLine();
        _silo.BeginErrorReadLine();

        var http = FreePort();
        _app = PreviewApp.Build(
        [
            $"--urls=http://127.0.0.1:{http}",
            "--Orchestrator:Profile=embedded",
            $"--Orchestrator:GatewayPort={gateway}",
            $"--Orchestrator:ClusterId={clusterId}",
            // Starting waits for the silo's gateway, up to this long.
            "--Orchestrator:ConnectTimeout=00:01:00",
            // The admin kubeconfig the silo writes once its API listens: the client certificate the
            // gateway requires and the token the calls carry. Starting waits for it too.
            $"--Orchestrator:Kubeconfig={Path.Combine(_data, "admin.kubeconfig")}",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await _app.StartAsync();
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        if (_silo is { HasExited: false })
        {
            _silo.Kill(entireProcessTree: true);
            await _silo.WaitForExitAsync();
        }
        _silo?.Dispose();
        Directory.Delete(_data, recursive: true);
    }

    [Fact]
    public async Task APreviewIsCreatedWatchedScaledAndTornDown()
    {
        var created = await _http.PostAsJsonAsync("/previews/feature-1", new { image = "busybox:1", port = 8080 });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        var deployments = Client.Deployments(PreviewApp.Namespace);
        var deployment = await deployments.GetAsync("preview-feature-1");
        Assert.Equal(1, deployment.Spec.Replicas);
        var service = await Client.Services(PreviewApp.Namespace).GetAsync("preview-feature-1");
        Assert.False(string.IsNullOrEmpty(service.Spec.ClusterIP));
        Assert.Equal("preview-feature-1", service.Spec.Selector!["app"]);

        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var changes = deployments.WatchAsync(labelSelector: "preview=feature-1", cancellationToken: stop.Token).GetAsyncEnumerator(stop.Token);
        var first = await NextAsync(changes, e => e.Type == WatchEventType.Added, "the preview's deployment listed by the watch");
        Assert.Equal(deployment.Metadata.Uid, first.Object.Metadata.Uid);

        var scaled = await _http.PostAsJsonAsync("/previews/feature-1/scale", new { replicas = 3 });
        Assert.Equal(HttpStatusCode.OK, scaled.StatusCode);
        await NextAsync(changes, e => e.Type == WatchEventType.Modified && e.Object.Spec.Replicas == 3, "the scale to 3 replicas");

        var deleted = await _http.DeleteAsync("/previews/feature-1");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await NextAsync(changes, e => e.Type == WatchEventType.Deleted, "the deployment's deletion");
        Assert.Null(await Client.Services(PreviewApp.Namespace).FindAsync("preview-feature-1"));
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/previews/feature-1")).StatusCode);
    }

    [Fact]
    public async Task ABadPreviewNameIsTheControlPlanesValidationError()
    {
        var response = await _http.PostAsJsonAsync("/previews/Feature_1", new { image = "busybox:1" });

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var fields = body.RootElement.GetProperty("causes").EnumerateArray().Select(c => c.GetProperty("field").GetString()).ToList();
        Assert.Contains("metadata.name", fields);
        Assert.Null(await Client.Deployments(PreviewApp.Namespace).FindAsync("preview-Feature_1"));
    }

    private static async Task<WatchEvent<T>> NextAsync<T>(IAsyncEnumerator<WatchEvent<T>> changes, Func<WatchEvent<T>, bool> wanted, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < Deadline)
        {
            var next = changes.MoveNextAsync().AsTask();
            if (await Task.WhenAny(next, Task.Delay(Deadline - deadline.Elapsed)) != next)
            {
                break;
            }
            Assert.True(await next, $"the watch ended before {what}");
            if (wanted(changes.Current))
            {
                return changes.Current;
            }
        }
        throw new TimeoutException($"Timed out after {Deadline.TotalSeconds:0} s waiting for {what}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string SiloAssembly()
    {
        if (Environment.GetEnvironmentVariable("ORCHESTRATOR_SILO_DLL") is { Length: > 0 } path)
        {
            return path;
        }
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Orchestrator.sln")))
        {
            dir = Path.GetDirectoryName(dir.TrimEnd(Path.DirectorySeparatorChar));
        }
        var silo = dir is null ? null : Path.Combine(dir, "silos", "bin", "Release", "net10.0", "Orchestrator.Silo.dll");
        return silo is not null && File.Exists(silo)
            ? silo
            : throw new FileNotFoundException("Build the silo first (dotnet build Orchestrator.sln -c Release) or set ORCHESTRATOR_SILO_DLL.");
    }
}
