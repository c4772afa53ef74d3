using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orchestrator.Model;

/// <summary>Kubernetes' IntOrString: a port number or a port name, a count or a percentage.</summary>
[GenerateSerializer, Immutable, Alias("orch.IntOrString")]
[JsonConverter(typeof(IntOrStringJsonConverter))]
public readonly record struct IntOrString
{
    [Id(0)] public int? IntValue { get; init; }
    [Id(1)] public string? StringValue { get; init; }

    public bool IsInt => StringValue is null;

    public static IntOrString FromInt(int value) => new() { IntValue = value };

    public static IntOrString FromString(string value) => new() { StringValue = value };

    public static implicit operator IntOrString(int value) => FromInt(value);

    public static implicit operator IntOrString(string value) => FromString(value);

    public override string ToString() => StringValue ?? (IntValue ?? 0).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Resolves a count or a percentage of <paramref name="total"/>, rounding up or down as
    /// Kubernetes' <c>GetScaledValueFromIntOrPercent</c> does. Returns null for a malformed value.
    /// </summary>
    public int? Scaled(int total, bool roundUp)
    {
        if (IsInt)
        {
            return IntValue ?? 0;
        }
        var s = StringValue!;
        if (!s.EndsWith('%') || !int.TryParse(s.AsSpan(0, s.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var percent))
        {
            return null;
        }
        var exact = (decimal)percent * total / 100m;
        return (int)(roundUp ? Math.Ceiling(exact) : Math.Floor(exact));
    }
}

public sealed class IntOrStringJsonConverter : JsonConverter<IntOrString>
{
    public override IntOrString Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Number when reader.TryGetInt32(out var i) => IntOrString.FromInt(i),
        JsonTokenType.String => IntOrString.FromString(reader.GetString()!),
        _ => throw new JsonException("must be an integer or a string"),
    };

    public override void Write(Utf8JsonWriter writer, IntOrString value, JsonSerializerOptions options)
    {
        if (value.IsInt)
        {
            writer.WriteNumberValue(value.IntValue ?? 0);
        }
        else
        {
            writer.WriteStringValue(value.StringValue);
        }
    }
}

/// <summary>
/// Kubernetes' resource.Quantity ("500m", "128Mi", "1.5", "2e3"). The text is kept as written;
/// <see cref="TryParse"/> gives its value for arithmetic.
/// </summary>
[GenerateSerializer, Immutable, Alias("orch.Quantity")]
[JsonConverter(typeof(QuantityJsonConverter))]
public readonly record struct Quantity
{
    public Quantity(string text) => Text = text;

    [Id(0)] public string Text { get; init; }

    public override string ToString() => Text ?? "0";

    public static implicit operator Quantity(string text) => new(text);

    public bool IsValid => TryParse(Text, out _);

    /// <summary>The value in base units (cores, bytes); 0 when malformed.</summary>
    public decimal Value => TryParse(Text, out var v) ? v : 0m;

    /// <summary>The value in thousandths, rounded up (millicores for cpu).</summary>
    public long MilliValue => (long)Math.Ceiling(Value * 1000m);

    /// <summary>The value rounded up to a whole unit (bytes for memory).</summary>
    public long WholeValue => (long)Math.Ceiling(Value);

    public static Quantity FromMilli(long milli) =>
        milli % 1000 == 0 ? new((milli / 1000).ToString(CultureInfo.InvariantCulture)) : new(milli.ToString(CultureInfo.InvariantCulture) + "m");

    public static Quantity FromBytes(long bytes)
    {
        string[] suffixes = ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"];
        for (var i = 0; i < suffixes.Length; i++)
        {
            var unit = 1L << (10 * (6 - i));
            if (bytes != 0 && bytes % unit == 0)
            {
                return new((bytes / unit).ToString(CultureInfo.InvariantCulture) + suffixes[i]);
            }
        }
        return new(bytes.ToString(CultureInfo.InvariantCulture));
    }

    public static Quantity FromCount(long count) => new(count.ToString(CultureInfo.InvariantCulture));

    /// <summary>Parses Kubernetes' quantity grammar: a signed decimal number and an optional
    /// binary-SI (Ki..Ei), decimal-SI (n, u, m, k, M..E) or exponent (e3, E-2) suffix.</summary>
    public static bool TryParse(string? text, out decimal value)
    {
        value = 0;
        if (string.IsNullOrEmpty(text) || text.Length > 64)
        {
            return false;
        }
        var i = 0;
        if (text[i] is '+' or '-')
        {
            i++;
        }
        var sawDigit = false;
        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            i++;
            sawDigit = true;
        }
        if (i < text.Length && text[i] == '.')
        {
            i++;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
                sawDigit = true;
            }
        }
        if (!sawDigit)
        {
            return false;
        }
        if (!decimal.TryParse(text.AsSpan(0, i), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }
        var suffix = text.AsSpan(i);
        decimal multiplier;
        switch (suffix)
        {
            case "": multiplier = 1m; break;
            case "Ki": multiplier = 1024m; break;
            case "Mi": multiplier = 1024m * 1024; break;
            case "Gi": multiplier = 1024m * 1024 * 1024; break;
            case "Ti": multiplier = 1024m * 1024 * 1024 * 1024; break;
            case "Pi": multiplier = 1024m * 1024 * 1024 * 1024 * 1024; break;
            case "Ei": multiplier = 1024m * 1024 * 1024 * 1024 * 1024 * 1024; break;
            case "n": multiplier = 0.000000001m; break;
            case "u": multiplier = 0.000001m; break;
            case "m": multiplier = 0.001m; break;
            case "k": multiplier = 1e3m; break;
            case "M": multiplier = 1e6m; break;
            case "G": multiplier = 1e9m; break;
            case "T": multiplier = 1e12m; break;
            case "P": multiplier = 1e15m; break;
            case "E": multiplier = 1e18m; break;
            default:
                if (suffix[0] is not ('e' or 'E') || !int.TryParse(suffix[1..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var exponent) || exponent is < -18 or > 18)
                {
                    return false;
                }
                multiplier = 1m;
                for (var e = 0; e < Math.Abs(exponent); e++)
                {
                    multiplier = exponent > 0 ? multiplier * 10m : multiplier / 10m;
                }
                break;
        }
        try
        {
            value = number * multiplier;
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }
}

public sealed class QuantityJsonConverter : JsonConverter<Quantity>
{
    // YAML such as `cpu: 1` arrives as a JSON number; Kubernetes accepts both forms.
    public override Quantity Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => new Quantity(reader.GetString()!),
        JsonTokenType.Number => new Quantity(System.Text.Encoding.UTF8.GetString(reader.ValueSpan)),
        _ => throw new JsonException("must be a quantity such as \"500m\" or \"128Mi\""),
    };

    public override void Write(Utf8JsonWriter writer, Quantity value, JsonSerializerOptions options) => writer.WriteStringValue(value.Text);
}

/// <summary>
/// Writes times as Kubernetes does (RFC 3339 in UTC, e.g. 2026-11-27T13:04:32Z) and reads any
/// RFC 3339 form. Kubernetes' metav1.Time has second precision on the wire; we keep
/// milliseconds because latency measurements read them, which RFC 3339 parsers accept.
/// </summary>
public sealed class Rfc3339JsonConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var s = reader.GetString();
        if (s is null || !DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value))
        {
            throw new JsonException("must be an RFC 3339 time such as 2026-01-02T15:04:05Z");
        }
        return value;
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        var utc = value.ToUniversalTime();
        writer.WriteStringValue(utc.Millisecond == 0
            ? utc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : utc.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
    }
}
