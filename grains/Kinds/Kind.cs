using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Index;
using Orchestrator.Grains.Kinds.Printing;
using Orchestrator.Model;
using Orchestrator.Selectors;

namespace Orchestrator.Grains.Kinds;

/// <summary>
/// Everything the control plane knows about one kind, registered once in <see cref="KindRegistry"/>
/// (as Kubernetes' scheme registers a type and hangs REST storage, printers, defaulters and
/// validation off it). The model record carries its type, defaults and validation; this entry adds
/// its controller, extra cache indexes and scale subresource. The API, the caches, the garbage
/// collector and the bootstrap read this and list no kinds of their own.
/// </summary>
public interface IKind
{
    ResourceType Type { get; }

    /// <summary>The grain that reconciles an object of this kind, or null for kinds without a controller.</summary>
    IReconciler? Controller(IGrainFactory grains, string? ns, string name);

    /// <summary>Calls the visitor with the kind's type (for code that is generic in it).</summary>
    TResult Accept<TResult>(IKindVisitor<TResult> visitor);
}

public interface IKindVisitor<out TResult>
{
    TResult Visit<T>(Kind<T> kind) where T : class, IResource<T>;
}

/// <summary>The /scale subresource of a kind with replicas.</summary>
public sealed record ScaleAccessors<T>(Func<T, int> Replicas, Func<T, int> StatusReplicas, Func<T, LabelSelector?> Selector);

public sealed class Kind<T> : IKind where T : class, IResource<T>
{
    public ResourceType Type => T.Type;

    /// <summary>The controller grain by object key, for kinds that have one.</summary>
    public Func<IGrainFactory, string, IReconciler>? Reconciler { get; init; }

    /// <summary>Extra keys the cache files an object under (besides namespace and owners), and the
    /// field selector they answer: e.g. pods by spec.nodeName.</summary>
    public CacheIndex<T>? Index { get; init; }

    public ScaleAccessors<T>? Scale { get; init; }

    /// <summary>The columns kubectl get prints (the kind's printer in Kubernetes): the API answers
    /// a request for a Table with them. A kind that declares none gets NAME and AGE.</summary>
    public IReadOnlyList<PrinterColumn<T>> Columns { get => _columns ?? PrinterColumns.Default<T>(); init => _columns = value; }

    private readonly IReadOnlyList<PrinterColumn<T>>? _columns;

    public IReconciler? Controller(IGrainFactory grains, string? ns, string name) =>
        Reconciler?.Invoke(grains, Type.Key(ns, name));

    public TResult Accept<TResult>(IKindVisitor<TResult> visitor) => visitor.Visit(this);
}

/// <summary>A secondary index of a kind's cache: the keys an object is filed under, and the key
/// an equality field selector maps to.</summary>
public sealed record CacheIndex<T>(Func<T, IEnumerable<string>> KeysOf, Func<string, string, string?> KeyForField);
