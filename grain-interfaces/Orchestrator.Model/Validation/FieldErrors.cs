using System.Collections;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Orchestrator.Validation;

/// <summary>One problem with one field, worded as Kubernetes' field.Error.</summary>
public sealed record FieldError(string Reason, string Field, string Body)
{
    public override string ToString() => $"{Field}: {Body}";
}

/// <summary>
/// Collects every problem with an object so that a client hears about all of them at once,
/// each naming its field by its JSON path (<c>spec.template.spec.containers[0].image</c>).
/// </summary>
public sealed class FieldErrors : IEnumerable<FieldError>
{
    private readonly List<FieldError> _errors = [];

    public int Count => _errors.Count;

    public bool Any => _errors.Count > 0;

    public void Required(string field, string? detail = null) =>
        Add("FieldValueRequired", field, detail is null ? "Required value" : $"Required value: {detail}");

    public void Invalid(string field, object? value, string detail) =>
        Add("FieldValueInvalid", field, $"Invalid value: {Format(value)}: {detail}");

    public void NotSupported(string field, object? value, IEnumerable<string> supported) =>
        Add("FieldValueNotSupported", field, $"Unsupported value: {Format(value)}: supported values: {string.Join(", ", supported.Select(s => Format(s)))}");

    public void Duplicate(string field, object? value) =>
        Add("FieldValueDuplicate", field, $"Duplicate value: {Format(value)}");

    public void TooLong(string field, int max) =>
        Add("FieldValueTooLong", field, $"Too long: may not be more than {max} bytes");

    public void Forbidden(string field, string detail) =>
        Add("FieldValueForbidden", field, $"Forbidden: {detail}");

    public void Add(string reason, string field, string body) => _errors.Add(new FieldError(reason, field, body));

    public IEnumerator<FieldError> GetEnumerator() => _errors.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static readonly JsonSerializerOptions QuoteOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Values print as Kubernetes prints them: strings quoted, numbers bare.</summary>
    private static string Format(object? value) => value switch
    {
        null => "null",
        string s => JsonSerializer.Serialize(s, QuoteOptions),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => JsonSerializer.Serialize(value.ToString(), QuoteOptions),
    };
}
