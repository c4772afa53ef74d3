using System.Text.Json.Nodes;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.HttpApi;

/// <summary>The meta.k8s.io Table a client gets when it asks for one: the kind's columns, a row per
/// object, and what each row carries per includeObject.</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class TableApiTests(ControlPlaneFixture cp)
{
    private const string KubectlAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

    private async Task<JsonObject> GetAsync(string path, string accept)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Accept", accept);
        using var response = await cp.Api.Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }

    [Fact]
    public async Task RowsCarryMetadataByDefaultTheObjectOrNothingAsAsked()
    {
        var ns = await cp.NewNamespaceAsync("table");
        await cp.Api.CreateAsync($"/api/v1/namespaces/{ns}/services", new Orchestrator.Model.Service
        {
            Metadata = new Orchestrator.Model.ObjectMeta { Name = "web" },
            Spec = new Orchestrator.Model.ServiceSpec { Ports = [new Orchestrator.Model.ServicePort { Port = 80 }] },
        });

        var metadata = await GetAsync($"/api/v1/namespaces/{ns}/services", KubectlAccept);
        var whole = await GetAsync($"/api/v1/namespaces/{ns}/services?includeObject=Object", KubectlAccept);
        var none = await GetAsync($"/api/v1/namespaces/{ns}/services/web?includeObject=None", KubectlAccept);
        var plain = await GetAsync($"/api/v1/namespaces/{ns}/services", "application/json");

        Assert.Equal("Table", (string?)metadata["kind"]);
        Assert.Equal("meta.k8s.io/v1", (string?)metadata["apiVersion"]);
        Assert.Equal(["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"], metadata["columnDefinitions"]!.AsArray().Select(c => (string?)c!["name"]));
        Assert.Equal(1, (int)metadata["columnDefinitions"]![6]!["priority"]!);
        var row = metadata["rows"]!.AsArray().Single()!;
        Assert.Equal("web", (string?)row["cells"]![0]);
        Assert.Equal("80/TCP", (string?)row["cells"]![4]);
        Assert.Equal("PartialObjectMetadata", (string?)row["object"]!["kind"]);
        Assert.Equal(ns, (string?)row["object"]!["metadata"]!["namespace"]);
        Assert.Null(row["object"]!["spec"]);
        Assert.Equal("Service", (string?)whole["rows"]![0]!["object"]!["kind"]);
        Assert.Equal(80, (int)whole["rows"]![0]!["object"]!["spec"]!["ports"]![0]!["port"]!);
        Assert.Null(none["rows"]!.AsArray().Single()!["object"]);
        Assert.Equal("ServiceList", (string?)plain["kind"]);
    }
}
