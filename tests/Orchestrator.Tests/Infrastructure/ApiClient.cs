using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Orchestrator.Model;
using Orchestrator.Serialization;

namespace Orchestrator.Tests.Infrastructure;

/// <summary>A thin client of the HTTP API for tests: raw responses, or typed objects.</summary>
public sealed class ApiClient(HttpClient http)
{
    public HttpClient Http { get; } = http;

    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body = null, string contentType = "application/json")
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }
        return Http.SendAsync(request);
    }

    public Task<HttpResponseMessage> PostYamlAsync(string path, string yaml) => SendAsync(HttpMethod.Post, path, yaml, "application/yaml");

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json) => SendAsync(HttpMethod.Post, path, json);

    public async Task<T> CreateAsync<T>(string path, T obj) where T : class
    {
        var response = await SendAsync(HttpMethod.Post, path, ResourceJson.SerializeToString(obj));
        return await ReadAsync<T>(response, HttpStatusCode.Created);
    }

    public async Task<T> GetAsync<T>(string path)
    {
        var response = await Http.GetAsync(path);
        return await ReadAsync<T>(response, HttpStatusCode.OK);
    }

    /// <summary>GET that returns null on 404.</summary>
    public async Task<T?> TryGetAsync<T>(string path) where T : class
    {
        var response = await Http.GetAsync(path);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        return await ReadAsync<T>(response, HttpStatusCode.OK);
    }

    public async Task<List<T>> ListAsync<T>(string path)
    {
        var node = await GetAsync<JsonObject>(path);
        return node["items"]!.AsArray().Select(i => i.Deserialize<T>(ResourceJson.Lenient)!).ToList();
    }

    public static async Task<T> ReadAsync<T>(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != expected)
        {
            throw new HttpRequestException($"expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        }
        return JsonSerializer.Deserialize<T>(text, ResourceJson.Lenient)!;
    }

    /// <summary>Reads an error response's Status, checking its code.</summary>
    public static async Task<ApiStatus> StatusAsync(HttpResponseMessage response, int expectedCode)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == expectedCode, $"expected HTTP {expectedCode}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var status = JsonSerializer.Deserialize<ApiStatus>(text, ResourceJson.Lenient)!;
        Assert.Equal("Status", status.Kind);
        Assert.Equal(expectedCode, status.Code);
        return status;
    }
}
