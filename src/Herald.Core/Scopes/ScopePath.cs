using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Herald.Scopes;

/// <summary>
/// A scope's place in the tree, written as a path: <c>/</c> is the global scope, <c>/hr</c> a
/// child, <c>/hr/payroll</c> a grandchild. Paths are lower-case so that one scope has one name.
/// </summary>
[JsonConverter(typeof(ScopePathJsonConverter))]
public readonly partial record struct ScopePath
{
    private const int MaxDepth = 16;

    public static readonly ScopePath Root = new("/");

    private ScopePath(string value) => Value = value;

    public string Value { get; }

    public bool IsRoot => Value == "/";

    public ScopePath? Parent =>
        IsRoot ? null : new ScopePath(Value[..Math.Max(1, Value.LastIndexOf('/'))]);

    /// <summary>This scope, then each ancestor up to and including <c>/</c>: the order in which
    /// settings are looked up.</summary>
    public IEnumerable<ScopePath> SelfAndAncestors()
    {
        for (ScopePath? scope = this; scope is { } current; scope = current.Parent)
        {
            yield return current;
        }
    }

    public bool IsSameOrDescendantOf(ScopePath ancestor) =>
        ancestor.IsRoot || Value == ancestor.Value || Value.StartsWith(ancestor.Value + "/", StringComparison.Ordinal);

    public static ScopePath Parse(string text) =>
        TryParse(text, out var path, out var error) ? path : throw new FormatException(error);

    public static bool TryParse(string? text, out ScopePath path, [NotNullWhen(false)] out string? error)
    {
        path = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "A scope path is required, such as / or /hr.";
            return false;
        }

        var normalized = AsciiCase.Lower(text.Trim());
        if (normalized.Length > 1 && normalized.EndsWith('/'))
        {
            normalized = normalized.TrimEnd('/');
        }

        if (!normalized.StartsWith('/'))
        {
            error = $"Scope path '{text}' must start with '/', such as /{normalized}.";
            return false;
        }

        if (normalized != "/")
        {
            var segments = normalized[1..].Split('/');
            if (segments.Length > MaxDepth)
            {
                error = $"Scope path '{text}' is deeper than {MaxDepth} levels.";
                return false;
            }

            foreach (var segment in segments)
            {
                if (!SegmentPattern().IsMatch(segment))
                {
                    error = $"Scope path '{text}' has an invalid part '{segment}': use letters, digits, '-', '_' or '.', starting with a letter or digit, at most 64 characters.";
                    return false;
                }
            }
        }

        path = new ScopePath(normalized);
        error = null;
        return true;
    }

    public override string ToString() => Value ?? "/";

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex SegmentPattern();
}

/// <summary>A scope is written as its path in JSON: <c>"/hr"</c>.</summary>
public sealed class ScopePathJsonConverter : JsonConverter<ScopePath>
{
    public override ScopePath Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        ScopePath.TryParse(reader.GetString(), out var path, out var error) ? path : throw new JsonException(error);

    public override void Write(Utf8JsonWriter writer, ScopePath value, JsonSerializerOptions options) => writer.WriteStringValue(value.Value);
}
