using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Herald.Suppression;

/// <summary>
/// An address as the suppression list compares it. The rule, in one place for the list and for
/// every check of a batch:
/// <list type="bullet">
/// <item>The domain is compared case-insensitively, as DNS compares it: one trailing dot (the
/// root) is dropped and an internationalised domain is compared in its <c>xn--</c> form after
/// IDNA (UTS #46) mapping, so <c>Bücher.example</c>, <c>xn--bcher-kva.example</c> and the
/// full-width <c>ｂücher.example</c> are one domain.</item>
/// <item>The local part is compared exactly, as RFC 5321 §2.4 says: only the receiving host may
/// give it meaning, so <c>Bob@</c> and <c>bob@</c> are different entries (add both if your mail
/// server folds case, as most do). Quoting that changes nothing is dropped (<c>"bob"@</c> is
/// <c>bob@</c>, RFC 5321 §4.1.2) and a Unicode local part is compared in NFC (RFC 6532 §3.1).</item>
/// <item>White space around the address is ignored; inside it, it is refused.</item>
/// </list>
/// </summary>
public sealed record SuppressionAddress
{
    /// <summary>The longest address (RFC 5321 §4.5.3.1.3: a path of 256 octets, less the brackets).</summary>
    public const int MaxLength = 254;

    private const int MaxLocalLength = 64;

    private static readonly IdnMapping Idn = new();

    private SuppressionAddress(string value, string key, string domain) => (Value, Key, Domain) = (value, key, domain);

    /// <summary>As it was written, without the white space around it.</summary>
    public string Value { get; }

    /// <summary>What is compared: the local part as written (unquoted when quoting changes
    /// nothing, in NFC), <c>@</c>, the domain in lower-case ASCII.</summary>
    public string Key { get; }

    /// <summary>The domain in lower-case ASCII (<c>xn--</c> for an internationalised one).</summary>
    public string Domain { get; }

    public override string ToString() => Value;

    public static bool TryParse(string? text, [NotNullWhen(true)] out SuppressionAddress? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        var trimmed = text?.Trim() ?? "";
        if (trimmed.Length == 0)
        {
            error = "An email address is required, such as name@example.org.";
            return false;
        }

        if (trimmed.Length > MaxLength)
        {
            error = $"An email address is at most {MaxLength} characters.";
            return false;
        }

        var at = trimmed.LastIndexOf('@');
        if (trimmed.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '<' or '>') || at <= 0 || at == trimmed.Length - 1)
        {
            error = $"'{Printable(trimmed)}' is not an email address: write it as name@example.org, without a display name or spaces.";
            return false;
        }

        if (!TryLocalPart(trimmed[..at], out var local) || !TryDomain(trimmed[(at + 1)..], out var domain))
        {
            error = $"'{trimmed}' is not an email address: write it as name@example.org.";
            return false;
        }

        address = new SuppressionAddress(trimmed, local + "@" + domain, domain);
        error = null;
        return true;
    }

    /// <summary>The key of an address, or null when it is none (the outbox's recipients were
    /// checked when submitted, so this is for its own bugs).</summary>
    public static string? KeyOf(string address) => TryParse(address, out var parsed, out _) ? parsed.Key : null;

    private static bool TryLocalPart(string text, [NotNullWhen(true)] out string? local)
    {
        local = text.IsNormalized(NormalizationForm.FormC) ? text : text.Normalize(NormalizationForm.FormC);
        if (local.Length >= 2 && local[0] == '"' && local[^1] == '"')
        {
            var inner = local[1..^1];
            if (IsDotAtom(inner))
            {
                local = inner;
            }
        }
        else if (!IsDotAtom(local))
        {
            local = null;
            return false;
        }

        return Encoding.UTF8.GetByteCount(local) <= MaxLocalLength;
    }

    private static bool TryDomain(string text, [NotNullWhen(true)] out string? domain)
    {
        domain = null;
        if (text.StartsWith('['))
        {
            // An address literal ([192.0.2.1], [IPv6:2001:db8::1]): only its hex digits have case.
            domain = text.EndsWith(']') ? AsciiCase.Lower(text) : null;
            return domain is not null;
        }

        // The root's dot: example.com. is example.com.
        var name = text.EndsWith('.') ? text[..^1] : text;
        if (name.Length == 0 || name.StartsWith('.') || name.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        if (System.Text.Ascii.IsValid(name))
        {
            // The common case, without IDNA: what it would give for an ASCII name (a host name's
            // letters, digits, hyphens; underscores for the odd service name).
            domain = AsciiCase.Lower(name);
            return domain.Split('.').All(label => label.Length is > 0 and <= 63 && label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));
        }

        try
        {
            // UTS #46 mapping: case, full-width forms and compatibility characters folded, then punycode.
            domain = AsciiCase.Lower(Idn.GetAscii(name));
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string Printable(string text) => new(text.Select(c => char.IsControl(c) ? '?' : c).ToArray());

    /// <summary>RFC 5322 dot-atom, with UTF-8 allowed (RFC 6532).</summary>
    private static bool IsDotAtom(string text)
    {
        if (text.Length == 0 || text[0] == '.' || text[^1] == '.' || text.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c < 0x80 && !char.IsAsciiLetterOrDigit(c) && "!#$%&'*+-/=?^_`{|}~.".IndexOf(c, StringComparison.Ordinal) < 0)
            {
                return false;
            }
        }

        return true;
    }
}
