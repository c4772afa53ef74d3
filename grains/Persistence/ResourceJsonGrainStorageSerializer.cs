using System.Text.Json;
using Orchestrator.Serialization;
using Orleans.Storage;

namespace Orchestrator.Grains.Persistence;

/// <summary>
/// Stores grain state as the plain JSON of our records (Kubernetes field names), never with
/// .NET type names as Orleans' default JSON storage does, so renaming a C# type cannot make
/// stored state unreadable and the stored objects are readable with any JSON tool.
/// </summary>
public sealed class ResourceJsonGrainStorageSerializer : IGrainStorageSerializer
{
    public BinaryData Serialize<T>(T? input) => new(JsonSerializer.SerializeToUtf8Bytes(input, ResourceJson.Lenient));

    public T? Deserialize<T>(BinaryData input) => JsonSerializer.Deserialize<T>(input.ToMemory().Span, ResourceJson.Lenient);
}
