using Orchestrator.Grains.Security;
using Orchestrator.Model;

namespace Orchestrator.Tests.Security;

/// <summary>The Node authorizer and NodeRestriction rules, with a graph of two nodes' pods.</summary>
public sealed class NodeAuthorizerTests
{
    private static readonly UserInfo NodeA = new() { Name = SystemUsers.Node("a"), Groups = [SystemGroups.Nodes, SystemGroups.Authenticated] };

    private readonly Graph _graph = new(
        Pod("ns", "on-a", "a", serviceAccount: "builder"),
        Pod("ns", "on-b", "b", serviceAccount: "deployer"));

    private readonly Recorder _rbac = new();

    private NodeAuthorizer Authorizer(Func<Pod, IReadOnlyCollection<PodReference>>? references = null) => new(_graph, _rbac, references);

    private static RequestAttributes Request(string verb, string resource, string name = "", string ns = "", string subresource = "", UserInfo? user = null) => new()
    {
        User = user ?? NodeA,
        Verb = verb,
        IsResourceRequest = true,
        Resource = resource,
        Subresource = subresource,
        Namespace = ns,
        Name = name,
    };

    private async Task<bool> AllowedAsync(RequestAttributes request, NodeAuthorizer? authorizer = null) =>
        (await (authorizer ?? Authorizer()).AuthorizeAsync(request)).Allowed;

    [Theory]
    [InlineData("get", "pods")]
    [InlineData("list", "services")]
    [InlineData("watch", "endpoints")]
    [InlineData("get", "namespaces")]
    [InlineData("list", "serviceaccounts")]
    [InlineData("get", "nodes")]
    public async Task NodesReadWhatTheSystemNodeRoleReads(string verb, string resource) =>
        Assert.True(await AllowedAsync(Request(verb, resource, ns: "ns")));

    [Fact]
    public async Task ANodeChangesItsOwnNodeOnly()
    {
        Assert.True(await AllowedAsync(Request("update", "nodes", "a")));
        Assert.True(await AllowedAsync(Request("patch", "nodes", "a", subresource: "status")));
        Assert.False(await AllowedAsync(Request("update", "nodes", "b")));
        Assert.False(await AllowedAsync(Request("patch", "nodes", "b", subresource: "status")));
        Assert.False(await AllowedAsync(Request("delete", "nodes", "b")));
        Assert.False(await AllowedAsync(Request("get", "nodes", "a", subresource: "proxy")));
    }

    [Fact]
    public async Task ANodeWritesTheStatusOfAndDeletesOnlyPodsBoundToIt()
    {
        Assert.True(await AllowedAsync(Request("update", "pods", "on-a", "ns", "status")));
        Assert.True(await AllowedAsync(Request("delete", "pods", "on-a", "ns")));
        Assert.False(await AllowedAsync(Request("update", "pods", "on-b", "ns", "status")));
        Assert.False(await AllowedAsync(Request("delete", "pods", "on-b", "ns")));
        Assert.False(await AllowedAsync(Request("update", "pods", "on-a", "ns")));
        Assert.False(await AllowedAsync(Request("create", "pods", "new", "ns")));
        Assert.False(await AllowedAsync(Request("update", "pods", "missing", "ns", "status")));
    }

    [Fact]
    public async Task ANodeGetsTokensOnlyForServiceAccountsOfItsPods()
    {
        Assert.True(await AllowedAsync(Request("create", "serviceaccounts", "builder", "ns", "token")));
        Assert.False(await AllowedAsync(Request("create", "serviceaccounts", "deployer", "ns", "token")));
        Assert.False(await AllowedAsync(Request("create", "serviceaccounts", "builder", "other", "token")));
    }

    [Fact]
    public async Task ANodeReadsOnlySecretsAndConfigMapsItsPodsReference()
    {
        // The model has no references yet (issue #14): no secret is readable.
        Assert.False(await AllowedAsync(Request("get", "secrets", "creds", "ns")));
        var authorizer = Authorizer(pod => pod.Metadata.Name == "on-a" ? [new PodReference("secrets", "creds"), new PodReference("configmaps", "settings")] : [new PodReference("secrets", "b-creds")]);
        Assert.True(await AllowedAsync(Request("get", "secrets", "creds", "ns"), authorizer));
        Assert.True(await AllowedAsync(Request("get", "configmaps", "settings", "ns"), authorizer));
        Assert.False(await AllowedAsync(Request("get", "secrets", "b-creds", "ns"), authorizer));
        Assert.False(await AllowedAsync(Request("list", "secrets", ns: "ns"), authorizer));
        Assert.False(await AllowedAsync(Request("get", "configmaps", "settings", "elsewhere"), authorizer));
    }

    [Fact]
    public async Task EventsAreCreatedAndOtherRequestsGoToRbac()
    {
        Assert.True(await AllowedAsync(Request("create", "events", ns: "ns")));
        Assert.Empty(_rbac.Seen);
        Assert.False(await AllowedAsync(Request("create", "deployments", ns: "ns")));
        Assert.Equal("deployments", Assert.Single(_rbac.Seen).Resource);
    }

    [Fact]
    public async Task OtherUsersAreDecidedByRbacAlone()
    {
        var jane = new UserInfo { Name = "jane", Groups = [SystemGroups.Authenticated] };
        Assert.False(await AllowedAsync(Request("update", "nodes", "a", user: jane)));
        // A user who merely calls itself a node, without the group, is no node.
        var impostor = new UserInfo { Name = SystemUsers.Node("a"), Groups = [SystemGroups.Authenticated] };
        Assert.False(await AllowedAsync(Request("update", "nodes", "a", user: impostor)));
        Assert.Equal(2, _rbac.Seen.Count);
    }

    private static Pod Pod(string ns, string name, string node, string serviceAccount) => new()
    {
        Metadata = new ObjectMeta { Namespace = ns, Name = name, Uid = name },
        Spec = new PodSpec { NodeName = node, ServiceAccountName = serviceAccount, Containers = [] },
    };

    private sealed class Graph(params Pod[] pods) : INodeGraph
    {
        public ValueTask<bool> IsPodBoundAsync(string node, string ns, string name, CancellationToken cancellationToken) =>
            ValueTask.FromResult(pods.Any(p => p.Metadata.Namespace == ns && p.Metadata.Name == name && p.Spec.NodeName == node));

        public ValueTask<IReadOnlyList<Pod>> PodsOnNodeAsync(string node, CancellationToken cancellationToken) =>
            ValueTask.FromResult<IReadOnlyList<Pod>>(pods.Where(p => p.Spec.NodeName == node).ToList());
    }

    /// <summary>RBAC that allows nothing and remembers what it was asked.</summary>
    private sealed class Recorder : IAuthorizer
    {
        public List<RequestAttributes> Seen { get; } = [];

        public ValueTask<AuthorizationDecision> AuthorizeAsync(RequestAttributes request, CancellationToken cancellationToken = default)
        {
            Seen.Add(request);
            return ValueTask.FromResult(AuthorizationDecision.Deny("no RBAC rule"));
        }
    }
}
