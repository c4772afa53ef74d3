using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Orchestrator.Grains.Security;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Silo.Security;
using Orchestrator.Tests.Infrastructure;

namespace Orchestrator.Tests.Security;

/// <summary>The audit log: one Metadata-level Event line per write and per refused request,
/// none for reads, no bodies; the file rotates by size.</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class AuditLogTests(ControlPlaneFixture cp)
{
    private string LogPath => Path.Combine(cp.DataDirectory, "audit.log");

    private async Task<List<JsonObject>> EventsAboutAsync(string ns, int atLeast) => await Eventually.Until(() =>
    {
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var lines = new StreamReader(stream).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var events = lines.Where(l => l.Contains(ns, StringComparison.Ordinal)).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        return Task.FromResult(events.Count >= atLeast ? events : null);
    }, $"{atLeast} audit events about {ns}");

    [Fact]
    public async Task WritesAndRefusalsAreLoggedReadsAndBodiesAreNot()
    {
        var ns = await cp.NewNamespaceAsync();
        const string marker = "image-that-must-not-be-logged";
        var pod = new Pod { Metadata = new ObjectMeta { Name = "p" }, Spec = new PodSpec { Containers = [new Container { Name = "c", Image = marker }] } };
        Assert.Equal(HttpStatusCode.Created, (await cp.Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods", ResourceJson.SerializeToString(pod))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await cp.Api.Http.GetAsync($"/api/v1/namespaces/{ns}/pods/p")).StatusCode);
        var privileged = pod with
        {
            Metadata = new ObjectMeta { Name = "q" },
            Spec = new PodSpec { Containers = [new Container { Name = "c", Image = marker, SecurityContext = new SecurityContext { Privileged = true } }] },
        };
        Assert.Equal(HttpStatusCode.Forbidden, (await cp.Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods", ResourceJson.SerializeToString(privileged))).StatusCode);

        var events = await EventsAboutAsync(ns, 2);
        Assert.Equal(2, events.Count);
        Assert.All(events, e =>
        {
            Assert.Equal("Event", (string?)e["kind"]);
            Assert.Equal("audit.k8s.io/v1", (string?)e["apiVersion"]);
            Assert.Equal("Metadata", (string?)e["level"]);
            Assert.Equal("ResponseComplete", (string?)e["stage"]);
            Assert.Equal("create", (string?)e["verb"]);
            Assert.Equal($"/api/v1/namespaces/{ns}/pods", (string?)e["requestURI"]);
            Assert.False(string.IsNullOrEmpty((string?)e["auditID"]));
            Assert.NotNull(e["user"]?["username"]);
            Assert.Equal("127.0.0.1", (string?)e["sourceIPs"]?[0]);
            Assert.NotNull(e["requestReceivedTimestamp"]);
            Assert.NotNull(e["stageTimestamp"]);
            Assert.DoesNotContain(marker, e.ToJsonString(), StringComparison.Ordinal);
        });
        Assert.Equal([201, 403], events.Select(e => (int)e["responseStatus"]!["code"]!));
    }

    [Fact]
    public void AnEventNamesTheObjectAndTheUserFromTheRequestAttributes()
    {
        var http = new DefaultHttpContext();
        http.Request.Method = "DELETE";
        http.Request.Path = "/apis/apps/v1/namespaces/n/deployments/web";
        var user = new UserInfo { Name = "alice", Groups = ["dev", SystemGroups.Authenticated] };
        var attributes = new RequestAttributes
        {
            User = user,
            Verb = "delete",
            IsResourceRequest = true,
            ApiGroup = "apps",
            ApiVersion = "v1",
            Resource = "deployments",
            Namespace = "n",
            Name = "web",
        };
        var t = new DateTimeOffset(2026, 12, 7, 23, 0, 0, TimeSpan.Zero);
        var e = JsonNode.Parse(AuditLog.Event(http, attributes, "delete", "id-1", 200, t, t.AddMilliseconds(5)))!;
        Assert.Equal("alice", (string?)e["user"]!["username"]);
        Assert.Equal("""["dev","system:authenticated"]""", e["user"]!["groups"]!.ToJsonString());
        Assert.Equal("""{"resource":"deployments","namespace":"n","name":"web","apiGroup":"apps","apiVersion":"v1"}""", e["objectRef"]!.ToJsonString());
        Assert.Equal("2026-12-07T23:00:00.005000Z", (string?)e["stageTimestamp"]);
    }

    [Fact]
    public async Task TheAuditLevelOfANamespaceAnnotatesTheEventsOfAdmittedPods()
    {
        var ns = await cp.NewNamespaceAsync(labels: new Dictionary<string, string> { [PodSecurityLabels.Audit] = PodSecurityLabels.Restricted });
        var pod = new Pod { Metadata = new ObjectMeta { Name = "p" }, Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "busybox" }] } };
        Assert.Equal(HttpStatusCode.Created, (await cp.Api.PostJsonAsync($"/api/v1/namespaces/{ns}/pods", ResourceJson.SerializeToString(pod))).StatusCode);
        var e = Assert.Single(await EventsAboutAsync(ns, 1));
        Assert.StartsWith("would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false",
            (string?)e["annotations"]?["pod-security.kubernetes.io/audit-violations"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task RotatesBySizeAndKeepsMaxBackups()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"audit-{Guid.NewGuid():N}");
        try
        {
            var path = Path.Combine(dir, "audit.log");
            await using (var writer = new AuditLogWriter(path, maxBytes: 250, maxBackups: 2))
            {
                for (var i = 0; i < 20; i++)
                {
                    await writer.WriteAsync($"{{\"n\":{i},\"pad\":\"{new string('x', 80)}\"}}");
                }
            }
            Assert.Equal(["audit.log", "audit.log.1", "audit.log.2"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.All(Directory.GetFiles(dir), f => Assert.True(new FileInfo(f).Length <= 250));
            // The newest lines are in audit.log, the ones before in audit.log.1.
            Assert.StartsWith("{\"n\":19,", File.ReadAllLines(path)[^1], StringComparison.Ordinal);
            Assert.StartsWith("{\"n\":17,", File.ReadAllLines(path + ".1")[^1], StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
