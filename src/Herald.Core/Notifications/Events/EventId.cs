using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Herald.Notifications.Events;

/// <summary>
/// A producer's id for an event (<c>doc-4711-v3</c>), normalised once, here: Unicode NFC, so that
/// an id typed with a composed or a decomposed accent is one id; compared exactly (ordinal,
/// case-sensitive: <c>Doc-1</c> and <c>doc-1</c> are two events). An id with control or
/// formatting characters (zero-width, bidirectional overrides) or white space at either end is
/// refused rather than trimmed or half-matched. Unique within its scope (see <see cref="EventKey"/>).
/// </summary>
public readonly record struct EventId
{
    public const int MaxLength = 200;

    private EventId(string value) => Value = value;

    public string Value { get; }

    public override string ToString() => Value ?? "";

    public static bool TryParse(string? text, out EventId id, [NotNullWhen(false)] out string? error)
    {
        id = default;
        error = $"An event id is 1 to {MaxLength} characters, without control or formatting characters and without white space at either end (it is how duplicates are recognised).";
        if (string.IsNullOrEmpty(text) || text.Length > MaxLength * 4)
        {
            return false;
        }

        string normalized;
        try
        {
            normalized = text.Normalize(NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            // A lone surrogate: not text.
            return false;
        }

        if (normalized.Length > MaxLength || char.IsWhiteSpace(normalized[0]) || char.IsWhiteSpace(normalized[^1])
            || normalized.Any(c => char.GetUnicodeCategory(c) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator))
        {
            return false;
        }

        id = new EventId(normalized);
        error = null;
        return true;
    }
}
