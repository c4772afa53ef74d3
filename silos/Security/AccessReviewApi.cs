using System.Text.Json.Nodes;
using Orchestrator.Grains.Security;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Silo.Api;
using Orchestrator.Validation;

namespace Orchestrator.Silo.Security;

/// <summary>
/// authorization.k8s.io/v1, what kubectl auth can-i calls: the access reviews ask the API's
/// authorizer about one request (the caller's own, a named user's, or a user's in one namespace),
/// the rules review lists what RBAC grants the caller in a namespace. Each is a create answered
/// in the object's status (201) and stored nowhere. Who may ask is the authorizer's business
/// too: by default every authenticated user may review itself (system:basic-user), a namespace's
/// admin may review others there (admin), only cluster admins anyone anywhere.
/// </summary>
public static class AccessReviewApi
{
    public const string Group = "authorization.k8s.io";

    private const string Prefix = $"/apis/{Group}/v1";

    public static readonly ResourceType SubjectAccessReviewType = new(Group, "v1", "SubjectAccessReview", "subjectaccessreviews", Namespaced: false, HasStatus: true);
    public static readonly ResourceType SelfSubjectAccessReviewType = new(Group, "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", Namespaced: false, HasStatus: true);
    public static readonly ResourceType LocalSubjectAccessReviewType = new(Group, "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", Namespaced: true, HasStatus: true);
    public static readonly ResourceType SelfSubjectRulesReviewType = new(Group, "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", Namespaced: false, HasStatus: true);

    /// <summary>The resources of the group, for discovery (create is their only verb).</summary>
    public static IReadOnlyList<ResourceType> Resources { get; } =
        [LocalSubjectAccessReviewType, SelfSubjectAccessReviewType, SelfSubjectRulesReviewType, SubjectAccessReviewType];

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost($"{Prefix}/selfsubjectaccessreviews", async (HttpContext http, IAuthorizer authorizer) =>
        {
            var review = await ReadAsync<SubjectAccessReview>(http, SelfSubjectAccessReviewType);
            Validate(review.Metadata.Name, SelfSubjectAccessReviewType, e => ValidateAttributes(review.Spec, e));
            // The self review asks about the caller, whatever the spec names (Kubernetes overwrites it).
            var user = http.User();
            var spec = review.Spec with { User = user.Name, Groups = user.Groups, Extra = user.Extra, Uid = user.Uid };
            return await AnswerAsync(authorizer, review with { Spec = spec }, user, SelfSubjectAccessReviewType, http.RequestAborted);
        });
        app.MapPost($"{Prefix}/subjectaccessreviews", async (HttpContext http, IAuthorizer authorizer) =>
        {
            var review = await ReadAsync<SubjectAccessReview>(http, SubjectAccessReviewType);
            Validate(review.Metadata.Name, SubjectAccessReviewType, e =>
            {
                ValidateAttributes(review.Spec, e);
                ValidateSubject(review.Spec, e);
            });
            return await AnswerAsync(authorizer, review, SubjectOf(review.Spec), SubjectAccessReviewType, http.RequestAborted);
        });
        app.MapPost($"{Prefix}/namespaces/{{namespace}}/localsubjectaccessreviews", async (HttpContext http, IAuthorizer authorizer, string @namespace) =>
        {
            var review = await ReadAsync<SubjectAccessReview>(http, LocalSubjectAccessReviewType);
            if (!string.IsNullOrEmpty(review.Metadata.Namespace) && review.Metadata.Namespace != @namespace)
            {
                throw ApiErrors.BadRequest($"the namespace of the provided object ({review.Metadata.Namespace}) does not match the namespace sent on the request ({@namespace})");
            }
            review = review with { Metadata = review.Metadata with { Namespace = @namespace } };
            Validate(review.Metadata.Name, LocalSubjectAccessReviewType, e =>
            {
                ValidateAttributes(review.Spec, e);
                ValidateSubject(review.Spec, e);
                if (review.Spec.NonResourceAttributes is not null)
                {
                    e.Invalid("spec.nonResourceAttributes", "", "disallowed on this kind of request");
                }
            });
            // A namespace's admin may ask about others only in that namespace.
            if (review.Spec.ResourceAttributes?.Namespace != @namespace)
            {
                throw ApiErrors.BadRequest($"spec.resourceAttributes.namespace must match namespace: {@namespace}");
            }
            return await AnswerAsync(authorizer, review, SubjectOf(review.Spec), LocalSubjectAccessReviewType, http.RequestAborted);
        });
        app.MapPost($"{Prefix}/selfsubjectrulesreviews", async (HttpContext http, RbacAuthorizer rbac) =>
        {
            var review = await ReadAsync<SelfSubjectRulesReview>(http, SelfSubjectRulesReviewType);
            var ns = review.Spec.Namespace ?? "";
            if (ns.Length == 0)
            {
                throw ApiErrors.BadRequest("no namespace on request");
            }
            var rules = await rbac.RulesForAsync(http.User(), ns);
            var status = new SubjectRulesReviewStatus
            {
                ResourceRules = [.. rules.ResourceRules.Select(r => new ResourceRule { Verbs = r.Verbs, ApiGroups = r.ApiGroups, Resources = r.Resources, ResourceNames = r.ResourceNames })],
                NonResourceRules = [.. rules.NonResourceRules.Select(r => new NonResourceRule { Verbs = r.Verbs, NonResourceUrls = r.NonResourceUrls })],
                Incomplete = rules.Errors.Count > 0,
                EvaluationError = rules.Errors.Count > 0 ? string.Join(", ", rules.Errors) : null,
            };
            return JsonBody.Of(review with { ApiVersion = SelfSubjectRulesReviewType.ApiVersion, Kind = SelfSubjectRulesReviewType.Kind, Status = status }, StatusCodes.Status201Created);
        });
    }

    private static async Task<IResult> AnswerAsync(IAuthorizer authorizer, SubjectAccessReview review, UserInfo user, ResourceType type, CancellationToken cancellationToken)
    {
        var decision = await authorizer.AuthorizeAsync(AttributesOf(review.Spec, user), cancellationToken);
        var status = new SubjectAccessReviewStatus { Allowed = decision.Allowed, Reason = decision.Reason.Length == 0 ? null : decision.Reason };
        return JsonBody.Of(review with { ApiVersion = type.ApiVersion, Kind = type.Kind, Status = status }, StatusCodes.Status201Created);
    }

    /// <summary>The request the review describes, as the API would have routed it.</summary>
    public static RequestAttributes AttributesOf(SubjectAccessReviewSpec spec, UserInfo user) => spec.ResourceAttributes is { } r
        ? new RequestAttributes
        {
            User = user,
            IsResourceRequest = true,
            Verb = r.Verb ?? "",
            ApiGroup = r.Group ?? "",
            ApiVersion = r.Version ?? "",
            Resource = r.Resource ?? "",
            Subresource = r.Subresource ?? "",
            Namespace = r.Namespace ?? "",
            Name = r.Name ?? "",
        }
        : new RequestAttributes
        {
            User = user,
            IsResourceRequest = false,
            Verb = spec.NonResourceAttributes?.Verb ?? "",
            Path = spec.NonResourceAttributes?.Path ?? "",
        };

    private static UserInfo SubjectOf(SubjectAccessReviewSpec spec) => new()
    {
        Name = spec.User ?? "",
        Groups = spec.Groups ?? [],
        Uid = spec.Uid,
        Extra = spec.Extra ?? new Dictionary<string, IReadOnlyList<string>>(),
    };

    private static void ValidateAttributes(SubjectAccessReviewSpec spec, FieldErrors e)
    {
        if (spec.ResourceAttributes is null && spec.NonResourceAttributes is null)
        {
            e.Required("spec.resourceAttributes", "exactly one of nonResourceAttributes or resourceAttributes must be specified");
        }
        if (spec.ResourceAttributes is not null && spec.NonResourceAttributes is not null)
        {
            e.Invalid("spec.nonResourceAttributes", "", "cannot be specified in combination with resourceAttributes");
        }
    }

    private static void ValidateSubject(SubjectAccessReviewSpec spec, FieldErrors e)
    {
        if (string.IsNullOrEmpty(spec.User) && spec.Groups is not { Count: > 0 })
        {
            e.Invalid("spec.user", spec.User ?? "", "at least one of user or group must be specified");
        }
    }

    private static void Validate(string? name, ResourceType type, Action<FieldErrors> rules)
    {
        var errors = new FieldErrors();
        rules(errors);
        if (errors.Any)
        {
            throw ApiErrors.Invalid(type, name ?? "", errors);
        }
    }

    /// <summary>Decodes the body strictly (kubectl sends an empty status, which is accepted and
    /// replaced) after checking apiVersion and kind.</summary>
    private static async Task<T> ReadAsync<T>(HttpContext http, ResourceType type)
    {
        var body = await RequestBody.ReadAsync(http.Request, http.RequestAborted);
        var format = RequestBody.FormatOf(http.Request, body);
        if (format is not (BodyFormat.Json or BodyFormat.Yaml))
        {
            throw ApiErrors.UnsupportedMediaType(http.Request.ContentType ?? "");
        }
        var document = RequestBody.Parse(body, format)[0];
        if (document is JsonObject o)
        {
            if (o["apiVersion"] is JsonValue av && av.TryGetValue<string>(out var apiVersion) && apiVersion != type.ApiVersion)
            {
                throw ApiErrors.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({type.ApiVersion})");
            }
            if (o["kind"] is JsonValue kv && kv.TryGetValue<string>(out var kind) && kind != type.Kind)
            {
                throw ApiErrors.BadRequest($"the kind in the data ({kind}) does not match the expected kind ({type.Kind}) for {Prefix}/{type.Plural}");
            }
        }
        return ResourceJson.Decode<T>(document);
    }
}
