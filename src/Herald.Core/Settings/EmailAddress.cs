using System.Diagnostics.CodeAnalysis;
using MimeKit;

namespace Herald.Settings;

/// <summary>An addr-spec (<c>local@domain</c>) that MimeKit accepts and that carries no display
/// name, comment or line break: what goes into an SMTP envelope or an address header.</summary>
public sealed record EmailAddress
{
    private EmailAddress(string value) => Value = value;

    public string Value { get; }

    /// <summary>The part after the last <c>@</c>, as written.</summary>
    public string Domain => Value[(Value.LastIndexOf('@') + 1)..];

    /// <summary>The domain as DNS and SMTP names carry it: an internationalised one in its
    /// <c>xn--</c> form.</summary>
    public string AsciiDomain => System.Text.Ascii.IsValid(Domain) ? Domain : Idn.GetAscii(Domain);

    private static readonly System.Globalization.IdnMapping Idn = new();

    public static EmailAddress Parse(string text) =>
        TryParse(text, out var address, out var error) ? address : throw new FormatException(error);

    public static bool TryParse(string? text, [NotNullWhen(true)] out EmailAddress? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        var trimmed = text?.Trim() ?? "";
        if (trimmed.Length == 0)
        {
            error = "An email address is required.";
            return false;
        }

        if (trimmed.Length > 254 || trimmed.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) || trimmed.Contains('<', StringComparison.Ordinal))
        {
            error = $"'{Printable(trimmed)}' is not a valid email address: write it as name@example.org, without a display name or spaces.";
            return false;
        }

        if (!MailboxAddress.TryParse(ParserOptions.Default, trimmed, out var mailbox)
            || mailbox.Address != trimmed
            || mailbox.Route.Count > 0
            || trimmed.IndexOf('@', StringComparison.Ordinal) is var at && (at <= 0 || at == trimmed.Length - 1)
            || trimmed.Count(c => c == '@') != 1 && !trimmed.StartsWith('"'))
        {
            error = $"'{Printable(trimmed)}' is not a valid email address: write it as name@example.org.";
            return false;
        }

        address = new EmailAddress(trimmed);
        error = null;
        return true;
    }

    public override string ToString() => Value;

    private static string Printable(string text) =>
        new(text.Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
