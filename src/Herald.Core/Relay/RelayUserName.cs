using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Herald.Relay;

/// <summary>
/// A relay account's user name, normalised once, here, for every way a name arrives (the API's
/// path, the console's form, the CLI's flag, SMTP AUTH): white space around it is removed, and
/// what is left must be 1 to 128 letters, digits, '.', '_', '-', '+' or '@'. Names are then
/// compared exactly (ordinal, case-sensitive), in Core and in the store, so that " scanner" and
/// "scanner" are one account and can never be checked as one and saved as another.
/// </summary>
public readonly partial record struct RelayUserName
{
    public const int MaxLength = 128;

    private RelayUserName(string value) => Value = value;

    public string Value { get; }

    public static bool TryParse(string? text, out RelayUserName name, [NotNullWhen(false)] out string? error)
    {
        var trimmed = text?.Trim();
        if (trimmed is null || !Pattern().IsMatch(trimmed))
        {
            name = default;
            error = $"A relay user name is 1 to {MaxLength} characters: letters, digits, '.', '_', '-', '+' or '@'.";
            return false;
        }

        name = new RelayUserName(trimmed);
        error = null;
        return true;
    }

    /// <summary>A name as the store holds it, taken as it is: one saved before these rules (or
    /// written there by other means) still lists, authenticates and shows, instead of failing
    /// every read of the relay's accounts.</summary>
    public static RelayUserName FromStored(string value) => new(value ?? throw new ArgumentNullException(nameof(value)));

    public static RelayUserName Parse(string text) =>
        TryParse(text, out var name, out var error) ? name : throw new FormatException(error);

    public override string ToString() => Value ?? "";

    [GeneratedRegex(@"^[A-Za-z0-9._+@-]{1,128}\z")]
    private static partial Regex Pattern();
}
