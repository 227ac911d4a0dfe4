using System.Text;
using Herald.Delivery;
using Herald.Settings;
using MimeKit;
using MimeKit.Utils;

namespace Herald.Relay;

/// <summary>The header section of a relayed message as it is stored: the client's fields with
/// From, Sender and Reply-To as the scope's impersonation policy decides, and what the outbox
/// keeps beside the MIME (the Message-ID, the decoded subject) and the envelope sender.</summary>
public sealed record RelayedHeaders(byte[] Headers, string MessageId, bool MessageIdAdded, string? Subject, SenderIdentity Identity);

/// <summary>
/// Reads and rewrites the header section of a message a relay client sent. Only the header
/// section is touched, field by field on the bytes the client sent: fields kept are kept byte for
/// byte, the body is never read. With impersonation <c>never</c> the client's From, Reply-To and
/// Sender are replaced by the scope's (<see cref="SenderIdentity.Decide"/>), each original kept
/// in <c>X-Original-From</c>, <c>X-Original-Reply-To</c> or <c>X-Original-Sender</c> so that an
/// administrator can tell which application wrote what; with <c>allowed</c> the client's From
/// stays and the scope's address becomes the Sender. Those three <c>X-Original-*</c> fields are
/// Herald's: a client's own are dropped, so that they can only say what Herald replaced.
/// </summary>
public static class RelayHeaders
{
    private static readonly string[] Replaced = ["From", "Reply-To", "Sender"];

    /// <summary>The length of the header section: up to and including the CR LF of its last
    /// field, before the empty line that starts the body (the whole message when it has none).</summary>
    public static int HeaderSectionLength(ReadOnlySpan<byte> message)
    {
        var start = 0;
        while (start < message.Length)
        {
            if (message[start..].StartsWith("\r\n"u8))
            {
                return start;
            }

            var end = message[start..].IndexOf("\r\n"u8);
            if (end < 0)
            {
                return message.Length;
            }

            start += end + 2;
        }

        return start;
    }

    /// <summary>The header section rewritten for <paramref name="settings"/>'s scope; a new
    /// Message-ID (<c>&lt;id@hostName&gt;</c>) is added when the client gave none.</summary>
    public static RelayedHeaders Rewrite(ReadOnlySpan<byte> headerSection, EffectiveOutgoingSettings settings, string id, string hostName)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var fields = Split(headerSection);
        var from = fields.Where(f => f.Is("From")).ToArray();
        var replyTo = fields.Where(f => f.Is("Reply-To")).ToArray();
        var sender = fields.Where(f => f.Is("Sender")).ToArray();
        var clientFrom = from.Length > 0 ? Mailboxes(from[0]).FirstOrDefault() : null;
        var requested = new RequestedIdentity(
            Address(clientFrom),
            string.IsNullOrEmpty(clientFrom?.Name) ? null : clientFrom.Name,
            replyTo.Length > 0 ? Address(Mailboxes(replyTo[0]).FirstOrDefault()) : null);
        var identity = SenderIdentity.Decide(settings, requested);

        // A field is kept as the client wrote it when it says exactly what the rule decided.
        var keepFrom = from.Length == 1 && clientFrom is not null && Address(clientFrom) == identity.From
            && (string.IsNullOrEmpty(clientFrom.Name) ? null : clientFrom.Name) == identity.FromName;
        var keepReplyTo = replyTo.Length == (identity.ReplyTo is null ? 0 : 1)
            && (replyTo.Length == 0 || Mailboxes(replyTo[0]) is [var only] && Address(only) == identity.ReplyTo);
        var keepSender = sender.Length == (identity.Sender is null ? 0 : 1)
            && (sender.Length == 0 || Mailboxes(sender[0]) is [var one] && Address(one) == identity.Sender);

        var encoding = MessageComposer.EncodingFor(settings.Charset.Value, identity.FromName ?? "", identity.SenderName ?? "");
        using var output = new MemoryStream(headerSection.Length + 512);
        var written = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        string? messageId = null;
        string? subject = null;
        foreach (var field in fields)
        {
            if (field.Name is { } name && name.StartsWith("X-Original-", StringComparison.OrdinalIgnoreCase)
                && Replaced.Any(r => name.Equals("X-Original-" + r, StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            if (field.Is("Message-ID") && messageId is null)
            {
                messageId = MimeUtils.ParseMessageId(Encoding.UTF8.GetString(field.Value)) is { Length: > 0 } parsed ? parsed : null;
            }
            else if (field.Is("Subject") && subject is null)
            {
                subject = Rfc2047.DecodeText(ParserOptions.Default, field.Value).ReplaceLineEndings("").Trim();
            }

            var replace = (field.Is("From") && !keepFrom) || (field.Is("Reply-To") && !keepReplyTo) || (field.Is("Sender") && !keepSender);
            if (!replace)
            {
                output.Write(field.Raw);
                continue;
            }

            var canonical = Replaced.First(field.Is);
            output.Write(Encoding.ASCII.GetBytes($"X-Original-{canonical}:"));
            output.Write(field.Value);
            output.Write("\r\n"u8);
            // The decided field takes the place of the first one it replaces.
            if (written.Add(canonical))
            {
                WriteDecided(output, canonical, identity, encoding);
            }
        }

        if (!keepFrom && written.Add("From"))
        {
            WriteDecided(output, "From", identity, encoding);
        }

        if (!keepReplyTo && identity.ReplyTo is not null && written.Add("Reply-To"))
        {
            WriteDecided(output, "Reply-To", identity, encoding);
        }

        if (!keepSender && identity.Sender is not null && written.Add("Sender"))
        {
            WriteDecided(output, "Sender", identity, encoding);
        }

        var added = messageId is null;
        if (added)
        {
            messageId = $"{id}@{hostName}";
            output.Write(Encoding.ASCII.GetBytes($"Message-ID: <{messageId}>\r\n"));
        }

        return new RelayedHeaders(output.ToArray(), messageId!, added, subject, identity);
    }

    private static void WriteDecided(MemoryStream output, string name, SenderIdentity identity, Encoding encoding)
    {
        var (address, display) = name switch
        {
            "From" => (identity.From, identity.FromName),
            "Sender" => (identity.Sender, identity.SenderName),
            _ => (identity.ReplyTo, null),
        };
        if (address is null)
        {
            return;
        }

        var headers = new HeaderList { new Header(encoding, name, new MailboxAddress(display, address.Value).ToString()) };
        using var field = new MemoryStream();
        headers.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, field);
        // A header list is written as a whole section: the empty line that ends it is left out.
        output.Write(field.GetBuffer().AsSpan(0, (int)field.Length - 2));
    }

    private static EmailAddress? Address(MailboxAddress? mailbox) =>
        mailbox is not null && EmailAddress.TryParse(mailbox.Address, out var address, out _) ? address : null;

    private static MailboxAddress[] Mailboxes(Field field) =>
        InternetAddressList.TryParse(ParserOptions.Default, field.Value, 0, field.Value.Length, out var list) ? list.Mailboxes.ToArray() : [];

    /// <summary>The fields of a header section: a field starts at a line that does not begin with
    /// white space and runs until the next one (RFC 5322 §2.2.3 folding). A line without a colon
    /// is kept as it came, with no name.</summary>
    private static List<Field> Split(ReadOnlySpan<byte> section)
    {
        var fields = new List<Field>();
        var start = 0;
        while (start < section.Length)
        {
            var end = start;
            do
            {
                var lineEnd = section[end..].IndexOf("\r\n"u8);
                end = lineEnd < 0 ? section.Length : end + lineEnd + 2;
            }
            while (end < section.Length && section[end] is (byte)' ' or (byte)'\t');

            var raw = section[start..end].ToArray();
            var colon = Array.IndexOf(raw, (byte)':');
            var name = colon > 0 ? Encoding.ASCII.GetString(raw, 0, colon).TrimEnd(' ', '\t') : null;
            var valueEnd = raw.Length >= 2 && raw[^2] == '\r' && raw[^1] == '\n' ? raw.Length - 2 : raw.Length;
            fields.Add(new Field(name is { Length: > 0 } && name.All(c => c is > ' ' and < '\x7f') ? name : null, raw, colon > 0 ? raw[(colon + 1)..valueEnd] : []));
            start = end;
        }

        return fields;
    }

    /// <summary>One field: its name (null for a line that is not a field), its bytes as sent
    /// (CR LF included) and its value (after the colon, folding kept, without the final CR LF).</summary>
    private sealed record Field(string? Name, byte[] Raw, byte[] Value)
    {
        public bool Is(string name) => string.Equals(Name, name, StringComparison.OrdinalIgnoreCase);
    }
}
