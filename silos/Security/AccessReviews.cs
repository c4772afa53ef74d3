using Orchestrator.Model;

namespace Orchestrator.Silo.Security;

// authorization.k8s.io/v1: questions to the authorizer, asked by creating an object that is
// answered in its status and never stored. The three access reviews share one shape.

/// <summary>SubjectAccessReview, SelfSubjectAccessReview and LocalSubjectAccessReview.</summary>
public sealed record SubjectAccessReview
{
    public string? ApiVersion { get; init; }
    public string? Kind { get; init; }
    public ObjectMeta Metadata { get; init; } = new();
    public SubjectAccessReviewSpec Spec { get; init; } = new();
    public SubjectAccessReviewStatus? Status { get; init; }
}

/// <summary>What is asked (a resource request or a non-resource URL) and, except for the self
/// review, by whom.</summary>
public sealed record SubjectAccessReviewSpec
{
    public ResourceAttributes? ResourceAttributes { get; init; }
    public NonResourceAttributes? NonResourceAttributes { get; init; }
    public string? User { get; init; }
    public IReadOnlyList<string>? Groups { get; init; }
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? Extra { get; init; }
    public string? Uid { get; init; }
}

public sealed record ResourceAttributes
{
    public string? Namespace { get; init; }
    public string? Verb { get; init; }
    public string? Group { get; init; }
    public string? Version { get; init; }
    public string? Resource { get; init; }
    public string? Subresource { get; init; }
    public string? Name { get; init; }
}

public sealed record NonResourceAttributes
{
    public string? Path { get; init; }
    public string? Verb { get; init; }
}

/// <summary><see cref="Denied"/> is only set by an authorizer that denies outright; RBAC never
/// does (it only allows or has no opinion).</summary>
public sealed record SubjectAccessReviewStatus
{
    public bool Allowed { get; init; }
    public bool? Denied { get; init; }
    public string? Reason { get; init; }
    public string? EvaluationError { get; init; }
}

/// <summary>SelfSubjectRulesReview: every rule that applies to the caller in a namespace
/// (kubectl auth can-i --list).</summary>
public sealed record SelfSubjectRulesReview
{
    public string? ApiVersion { get; init; }
    public string? Kind { get; init; }
    public ObjectMeta Metadata { get; init; } = new();
    public SelfSubjectRulesReviewSpec Spec { get; init; } = new();
    public SubjectRulesReviewStatus? Status { get; init; }
}

public sealed record SelfSubjectRulesReviewSpec
{
    public string? Namespace { get; init; }
}

public sealed record SubjectRulesReviewStatus
{
    public IReadOnlyList<ResourceRule> ResourceRules { get; init; } = [];
    public IReadOnlyList<NonResourceRule> NonResourceRules { get; init; } = [];

    /// <summary>True when some rules could not be read (a binding to a missing role).</summary>
    public bool Incomplete { get; init; }
    public string? EvaluationError { get; init; }
}

public sealed record ResourceRule
{
    public IReadOnlyList<string> Verbs { get; init; } = [];
    public IReadOnlyList<string>? ApiGroups { get; init; }
    public IReadOnlyList<string>? Resources { get; init; }
    public IReadOnlyList<string>? ResourceNames { get; init; }
}

public sealed record NonResourceRule
{
    public IReadOnlyList<string> Verbs { get; init; } = [];
    [System.Text.Json.Serialization.JsonPropertyName("nonResourceURLs")] public IReadOnlyList<string>? NonResourceUrls { get; init; }
}
