using System.Text.Json.Serialization;
using Orchestrator.Validation;

namespace Orchestrator.Model;

/// <summary>core/v1 Event: a report of something that happened to an object.</summary>
[GenerateSerializer, Immutable, Alias("orch.Event")]
public sealed record Event : IResource<Event>
{
    [Id(0)] public string? ApiVersion { get; init; }
    [Id(1)] public string? Kind { get; init; }
    [Id(2)] public ObjectMeta Metadata { get; init; } = new();
    [Id(3)] public ObjectReference InvolvedObject { get; init; } = new();
    [Id(4)] public string? Reason { get; init; }
    [Id(5)] public string? Message { get; init; }
    [Id(6)] public EventSource? Source { get; init; }
    [Id(7)] public DateTimeOffset? FirstTimestamp { get; init; }
    [Id(8)] public DateTimeOffset? LastTimestamp { get; init; }
    [Id(9)] public int? Count { get; init; }
    /// <summary>Normal or Warning.</summary>
    [Id(10), JsonPropertyName("type")] public string? EventType { get; init; }
    [Id(11)] public string? ReportingComponent { get; init; }
    [Id(12)] public string? ReportingInstance { get; init; }
    [Id(13)] public string? Action { get; init; }

    public static ResourceType Type => ResourceTypes.Event;

    public static Event ApplyDefaults(Event obj) => Defaults.Event(obj);

    public static void Validate(Event obj, Event? old, FieldErrors errors) => Validator.Event(obj, old, errors);

    public Event WithMetadata(ObjectMeta metadata) => this with { Metadata = metadata };

    [JsonIgnore] public object? DesiredState => null;

    public Event WithStatusOf(Event other) => this;
}

[GenerateSerializer, Immutable, Alias("orch.EventSource")]
public sealed record EventSource
{
    [Id(0)] public string? Component { get; init; }
    [Id(1)] public string? Host { get; init; }
}

public static class EventTypes
{
    public const string Normal = "Normal";
    public const string Warning = "Warning";
}
