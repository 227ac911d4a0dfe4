using System.Diagnostics.CodeAnalysis;

namespace Herald.Settings;

/// <summary>The written names of an enumeration's values, as they appear in the CLI, the API and
/// the database (e.g. <c>starttls-required</c>), kept as data in one place per type.</summary>
public sealed class NamedValues<T>(params (T Value, string Name)[] pairs)
    where T : struct, Enum
{
    public IReadOnlyList<string> Names { get; } = pairs.Select(p => p.Name).ToArray();

    public string NameOf(T value) => pairs.First(p => EqualityComparer<T>.Default.Equals(p.Value, value)).Name;

    public bool TryParse(string? name, out T value)
    {
        foreach (var pair in pairs)
        {
            if (string.Equals(pair.Name, name?.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                value = pair.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    public T Parse(string name) =>
        TryParse(name, out var value) ? value : throw new FormatException($"'{name}' is not one of: {string.Join(", ", Names)}.");

    public bool TryParse(string? name, [NotNullWhen(false)] out string? error, out T value)
    {
        if (TryParse(name, out value))
        {
            error = null;
            return true;
        }

        error = $"'{name}' is not one of: {string.Join(", ", Names)}.";
        return false;
    }
}
