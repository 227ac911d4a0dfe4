using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;
using Herald.Scopes;

namespace Herald.Settings;

/// <summary>
/// How a connection is named where it is used: <c>smarthost</c> (the nearest connection of that
/// name owned by the scope or one of its ancestors) or <c>/hr:smarthost</c> (owned by
/// <c>/hr</c>). The name is normalised once here — trimmed and lower-cased — and compared
/// exactly everywhere else; <c>:</c> and <c>/</c> can never be part of a name, so a qualified
/// reference cannot be mistaken for another.
/// </summary>
public readonly partial record struct ConnectionReference(ScopePath? Owner, string Name)
{
    /// <summary>The name a scope's own connection gets when its settings form creates one.</summary>
    public const string DefaultName = "default";

    public const int MaxLength = 64;

    public static string Qualified(ScopePath owner, string name) => $"{owner.Value}:{name}";

    public override string ToString() => Owner is { } owner ? Qualified(owner, Name) : Name;

    public static bool TryParse(string? text, out ConnectionReference reference, [NotNullWhen(false)] out string? error)
    {
        reference = default;
        var trimmed = text?.Trim() ?? "";
        var colon = trimmed.LastIndexOf(':');
        ScopePath? owner = null;
        if (colon >= 0)
        {
            if (!ScopePath.TryParse(trimmed[..colon], out var path, out var scopeError))
            {
                error = $"'{text}' does not name a connection: before ':' comes the owning scope ({scopeError})";
                return false;
            }

            owner = path;
            trimmed = trimmed[(colon + 1)..];
        }

        if (!TryNormalizeName(trimmed, out var name, out error))
        {
            return false;
        }

        reference = new ConnectionReference(owner, name);
        return true;
    }

    /// <summary>A connection's name within its owner: 1 to 64 letters, digits, '.', '_' or '-',
    /// starting with a letter or digit, compared in lower case.</summary>
    public static bool TryNormalizeName(string? text, [NotNullWhen(true)] out string? name, [NotNullWhen(false)] out string? error)
    {
        name = text is null ? null : AsciiCase.Lower(text.Trim());
        if (name is not null && NamePattern().IsMatch(name))
        {
            error = null;
            return true;
        }

        name = null;
        error = $"'{text}' is not a valid connection name: use 1 to {MaxLength} letters, digits, '-', '_' or '.', starting with a letter or digit (or '/scope:name' for a connection of another scope).";
        return false;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();
}
