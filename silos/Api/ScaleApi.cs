using Orchestrator.Model;
using Orchestrator.Selectors;
using Orchestrator.Serialization;

namespace Orchestrator.Silo.Api;

/// <summary>The /scale subresource (autoscaling/v1 Scale) of deployments and replica sets.</summary>
public static class ScaleApi<T> where T : class, IResource<T>
{
    public static void Map(IEndpointRouteBuilder app, Grains.Kinds.ScaleAccessors<T> accessors)
    {
        var (replicas, statusReplicas, selector) = (accessors.Replicas, accessors.StatusReplicas, accessors.Selector);
        var path = $"{KindApi<T>.Prefix}/namespaces/{{namespace}}/{T.Type.Plural}/{{name}}/scale";
        app.MapGet(path, async (IGrainFactory grains, string @namespace, string name) =>
            JsonBody.Of(ToScale(await KindApi<T>.LoadAsync(grains, @namespace, name), replicas, statusReplicas, selector)));
        app.MapPut(path, async (HttpContext http, IGrainFactory grains, string @namespace, string name) =>
        {
            var body = await RequestBody.ReadAsync(http.Request, http.RequestAborted);
            var scale = ResourceJson.Decode<Scale>(RequestBody.Parse(body, RequestBody.FormatOf(http.Request, body))[0]);
            return await ApplyAsync(grains, @namespace, name, scale, replicas, statusReplicas, selector, KindApi<T>.WriteOptionsOf(http, "UpdateOptions"));
        });
        app.MapPatch(path, async (HttpContext http, IGrainFactory grains, string @namespace, string name) =>
        {
            var writeOptions = KindApi<T>.WriteOptionsOf(http, "PatchOptions");
            var body = await RequestBody.ReadAsync(http.Request, http.RequestAborted);
            var current = ToScale(await KindApi<T>.LoadAsync(grains, @namespace, name), replicas, statusReplicas, selector);
            var patched = ResourceJson.Decode<Scale>(Patches.Apply(ResourceJson.ToNode(current)!, body, KindApi<T>.PatchTypeOf(http, RequestBody.FormatOf(http.Request, body)), typeof(Scale)));
            // The version in the patched Scale is the one read above unless the patch set it:
            // only a version the client named is a precondition (the object's status may well
            // have been written since the read).
            if (patched.Metadata.ResourceVersion == current.Metadata.ResourceVersion)
            {
                patched = patched with { Metadata = patched.Metadata with { ResourceVersion = null } };
            }
            return await ApplyAsync(grains, @namespace, name, patched, replicas, statusReplicas, selector, writeOptions);
        });
    }

    private static async Task<IResult> ApplyAsync(IGrainFactory grains, string ns, string name, Scale scale,
        Func<T, int> replicas, Func<T, int> statusReplicas, Func<T, LabelSelector?> selector, GrainInterfaces.WriteOptions writeOptions)
    {
        if (scale.Spec.Replicas is not { } wanted)
        {
            throw ApiErrors.Invalid(T.Type, name, Errors(e => e.Required("spec.replicas")));
        }
        if (wanted < 0)
        {
            throw ApiErrors.Invalid(T.Type, name, Errors(e => e.Invalid("spec.replicas", wanted, "must be greater than or equal to 0")));
        }
        // A merge patch of spec.replicas, applied by the grain to the latest object: a scale
        // conflicts only when it names a resourceVersion that is no longer current.
        var patch = new System.Text.Json.Nodes.JsonObject { ["spec"] = new System.Text.Json.Nodes.JsonObject { ["replicas"] = wanted } };
        if (!string.IsNullOrEmpty(scale.Metadata.ResourceVersion))
        {
            patch["metadata"] = new System.Text.Json.Nodes.JsonObject { ["resourceVersion"] = scale.Metadata.ResourceVersion };
        }
        var updated = await KindApi<T>.Grain(grains, ns, name).PatchAsync(PatchType.Merge, System.Text.Encoding.UTF8.GetBytes(patch.ToJsonString()), status: false, writeOptions);
        return JsonBody.Of(ToScale(updated, replicas, statusReplicas, selector));
    }

    private static Validation.FieldErrors Errors(Action<Validation.FieldErrors> add)
    {
        var e = new Validation.FieldErrors();
        add(e);
        return e;
    }

    private static Scale ToScale(T obj, Func<T, int> replicas, Func<T, int> statusReplicas, Func<T, LabelSelector?> selector) => new()
    {
        ApiVersion = "autoscaling/v1",
        Kind = "Scale",
        Metadata = new ObjectMeta
        {
            Name = obj.Metadata.Name,
            Namespace = obj.Metadata.Namespace,
            Uid = obj.Metadata.Uid,
            ResourceVersion = obj.Metadata.ResourceVersion,
            CreationTimestamp = obj.Metadata.CreationTimestamp,
        },
        Spec = new ScaleSpec { Replicas = replicas(obj) },
        Status = new ScaleStatus
        {
            Replicas = statusReplicas(obj),
            Selector = selector(obj) is { } s && Selector.TryFrom(s, out var parsed) ? parsed.ToString() : null,
        },
    };
}
