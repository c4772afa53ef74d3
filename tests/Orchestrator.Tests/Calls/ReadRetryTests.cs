using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Orchestrator.Silo.Api;
using Orchestrator.Tests.Infrastructure;
using Orleans.Runtime;

namespace Orchestrator.Tests.Calls;

/// <summary>
/// The HTTP API repeats a read whose grain call was cut off by a lost silo (the call may have
/// run, so the grain call filter does not repeat it), and never a write.
/// </summary>
public sealed class ReadRetryTests : IAsyncLifetime
{
    private static readonly SiloUnavailableException LostWhileAnswering =
        new("The target silo became unavailable for message: Request [a]->[b] IFoo.Get #1. See https://aka.ms/orleans-troubleshooting for troubleshooting help.");

    private readonly int _port = Ports.Free();
    private WebApplication _app = null!;
    private int _reads;
    private int _writes;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{_port}");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.UseKubernetesErrors();
        _app.MapGet("/read", () => Interlocked.Increment(ref _reads) < 3 ? throw LostWhileAnswering : Results.Ok("read"));
        _app.MapPost("/write", () =>
        {
            Interlocked.Increment(ref _writes);
            throw LostWhileAnswering;
        });
        await _app.StartAsync();
    }

    [Fact]
    public async Task AReadCutOffByALostSiloIsRepeated()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") };

        using var response = await http.GetAsync("/read");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, _reads);
    }

    [Fact]
    public async Task AWriteCutOffByALostSiloIsNotRepeatedAndSaysSo()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") };

        using var response = await http.PostAsync("/write", new StringContent("{}"));

        var status = await ApiClient.StatusAsync(response, 503);
        Assert.Contains("may or may not have been applied", status.Message, StringComparison.Ordinal);
        Assert.Equal(1, _writes);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
