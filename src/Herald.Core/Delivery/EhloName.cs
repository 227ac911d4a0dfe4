using System.Net;
using System.Net.Sockets;

namespace Herald.Delivery;

/// <summary>
/// The name Herald greets an upstream server with (EHLO). RFC 5321 asks for the client's fully
/// qualified domain name, and many servers refuse anything else (Postfix's
/// <c>reject_non_fqdn_helo_hostname</c>; spam filters score a bare name): the connection's own
/// setting when the administrator gave one; otherwise the node's own name when it is qualified,
/// resolved once; otherwise the domain of the message's envelope sender, which the organisation
/// owns; a bare host name never.
/// </summary>
public static class EhloName
{
    /// <summary>What a connection without its own name greets with, for people to read.</summary>
    public const string Automatic = "automatic (the node's fully qualified name, or the sender's domain)";

    private static readonly Lazy<string?> QualifiedHostName = new(ResolveQualifiedHostName);

    /// <param name="connection">The connection the session opens; its <see cref="Settings.SmtpConnection.EhloName"/> wins.</param>
    /// <param name="envelopeSender">The envelope sender of the message the session opens for;
    /// null for a probe, which then greets with the node's name or <c>localhost.localdomain</c>.</param>
    public static string For(Settings.SmtpConnection connection, string? envelopeSender) =>
        connection.EhloName ?? Automatically(envelopeSender);

    /// <summary>The name chosen when the connection names none.</summary>
    public static string Automatically(string? envelopeSender) =>
        QualifiedHostName.Value ?? DomainOf(envelopeSender) ?? "localhost.localdomain";

    /// <summary>The node's own fully qualified name, or null when it has none.</summary>
    public static string? NodeName => QualifiedHostName.Value;

    /// <summary>Whether <paramref name="name"/> is a fully qualified domain name: at least two
    /// labels of letters, digits and inner hyphens, the last not all digits.</summary>
    public static bool IsQualified(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 253)
        {
            return false;
        }

        var labels = name.TrimEnd('.').Split('.');
        return labels.Length >= 2
            && labels.All(l => l.Length is > 0 and <= 63 && l.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') && l[0] != '-' && l[^1] != '-')
            && !labels[^1].All(char.IsAsciiDigit);
    }

    private static string? DomainOf(string? address)
    {
        if (!Settings.EmailAddress.TryParse(address, out var parsed, out _))
        {
            return null;
        }

        try
        {
            var domain = parsed.AsciiDomain;
            return IsQualified(domain) ? domain.ToLowerInvariant() : null;
        }
        catch (ArgumentException)
        {
            // Not a name IDNA can map (MimeKit accepts more than DNS does).
            return null;
        }
    }

    private static string? ResolveQualifiedHostName()
    {
        try
        {
            var name = Dns.GetHostName();
            if (IsQualified(name))
            {
                return name.ToLowerInvariant();
            }

            // /etc/hosts or DNS may know the full name (127.0.1.1 vm.example.org vm).
            var canonical = Dns.GetHostEntry(name).HostName;
            return IsQualified(canonical) ? canonical.ToLowerInvariant() : null;
        }
        catch (SocketException)
        {
            return null;
        }
    }
}
