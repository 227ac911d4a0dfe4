using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace Herald.Relay;

/// <summary>
/// The address in MAIL FROM:&lt;…&gt; and RCPT TO:&lt;…&gt; (RFC 5321 §4.1.2), taken literally.
/// What older mail systems would route elsewhere is refused, never reinterpreted: source routes
/// (<c>&lt;@a:b@c&gt;</c>), the <c>%</c> hack (<c>b%c@a</c>), bang paths (<c>c!b@a</c>) and quoted
/// local parts that contain <c>@</c>, <c>%</c> or <c>!</c>. The gate then judges exactly the
/// mailbox the message would go to.
/// </summary>
internal static class SmtpPath
{
    private const int MaxLocalPart = 64;
    private const int MaxDomain = 255;
    private const int MaxPath = 256;
    private const string AText = "!#$%&'*+-/=?^_`{|}~";

    /// <summary>Parses <c>&lt;path&gt;</c> at the start of <paramref name="text"/>.</summary>
    /// <param name="recipient">RCPT (the null path is refused, <c>&lt;postmaster&gt;</c> is
    /// allowed) or MAIL (the null path <c>&lt;&gt;</c> is allowed).</param>
    /// <param name="address">The mailbox as the client wrote it, "" for the null sender.</param>
    /// <param name="rest">What follows the closing bracket (the parameters).</param>
    public static bool TryParse(string text, bool recipient, [NotNullWhen(true)] out string? address, out string rest, [NotNullWhen(false)] out SmtpReply? error)
    {
        address = null;
        rest = "";
        var syntax = recipient ? SmtpReplies.BadRecipientSyntax : SmtpReplies.BadSenderSyntax;
        error = syntax;
        if (text is not ['<', ..])
        {
            return false;
        }

        if (text is ['<', '@', ..])
        {
            error = SmtpReplies.RelayTrick("source routes are not accepted");
            return false;
        }

        var position = 1;
        if (!TryLocalPart(text, ref position, out var localPart, out var trick))
        {
            return false;
        }

        if (trick is not null)
        {
            error = SmtpReplies.RelayTrick(trick);
            return false;
        }

        if (position < text.Length && text[position] == '>')
        {
            if (localPart.Length == 0 && !recipient)
            {
                address = "";
            }
            else if (recipient && localPart.Equals("postmaster", StringComparison.OrdinalIgnoreCase))
            {
                // RFC 5321 §4.1.1.3: <Postmaster> without a domain must be accepted.
                address = localPart;
            }
            else
            {
                return false;
            }

            rest = text[(position + 1)..];
            return true;
        }

        if (localPart.Length is 0 or > MaxLocalPart || position >= text.Length || text[position] != '@')
        {
            return false;
        }

        var domainStart = ++position;
        var closing = text.IndexOf('>', domainStart);
        if (closing < 0)
        {
            return false;
        }

        var domain = text[domainStart..closing];
        if (!IsDomain(domain))
        {
            // e.g. <b@c@a>: a second @ is no domain; so is <@a,@b:c@d> after a local part.
            return false;
        }

        address = $"{localPart}@{domain}";
        if (address.Length + 2 > MaxPath)
        {
            address = null;
            return false;
        }

        rest = text[(closing + 1)..];
        return true;
    }

    /// <summary>Whether an address needs SMTPUTF8 (RFC 6531): any octet outside ASCII.</summary>
    public static bool IsInternational(string address) => !System.Text.Ascii.IsValid(address);

    private static bool TryLocalPart(string text, ref int position, out string localPart, out string? trick)
    {
        localPart = "";
        trick = null;
        var start = position;
        if (position < text.Length && text[position] == '"')
        {
            var decoded = new System.Text.StringBuilder();
            position++;
            while (true)
            {
                if (position >= text.Length)
                {
                    return false;
                }

                var c = text[position++];
                if (c == '"')
                {
                    break;
                }

                if (c == '\\')
                {
                    if (position >= text.Length || text[position] is < ' ' or > '~')
                    {
                        return false;
                    }

                    c = text[position++];
                }
                else if (c is < ' ' or (> '~' and < '\u0080'))
                {
                    return false;
                }

                decoded.Append(c);
            }

            if (decoded.ToString().IndexOfAny(['@', '%', '!']) >= 0)
            {
                trick = "a quoted local part with @, % or ! is not accepted";
            }

            localPart = text[start..position];
            return true;
        }

        while (position < text.Length && (IsAText(text[position]) || (text[position] == '.' && position > start && text[position - 1] != '.')))
        {
            position++;
        }

        localPart = text[start..position];
        if (localPart.EndsWith('.'))
        {
            return false;
        }

        if (localPart.Contains('%'))
        {
            trick = "the % hack is not accepted";
        }
        else if (localPart.Contains('!'))
        {
            trick = "bang paths are not accepted";
        }

        return true;
    }

    private static bool IsAText(char c) => char.IsAsciiLetterOrDigit(c) || AText.Contains(c) || c >= '\u0080';

    private static bool IsDomain(string domain)
    {
        if (domain.Length is 0 or > MaxDomain)
        {
            return false;
        }

        if (domain is ['[', .., ']'])
        {
            var literal = domain[1..^1];
            return literal.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase)
                ? IPAddress.TryParse(literal[5..], out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
                : IPAddress.TryParse(literal, out var v4) && v4.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && literal.Count(c => c == '.') == 3;
        }

        foreach (var label in domain.Split('.'))
        {
            // Let-dig [Ldh-str], and U-labels (RFC 6531) whose octets are checked by SMTPUTF8.
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-'
                || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-' || c >= '\u0080'))
            {
                return false;
            }
        }

        return true;
    }
}
