using System.Text;
using Herald.Settings;
using MimeKit;
using MimeKit.Utils;

namespace Herald.Delivery;

/// <summary>Builds a message the way a scope's outgoing settings say: From with its display
/// name, Reply-To, and subject and body encoded in the scope's character set.</summary>
public static class MessageComposer
{

    public static MimeMessage Compose(
        EffectiveOutgoingSettings settings,
        IEnumerable<EmailAddress> to,
        string subject,
        string textBody,
        DateTimeOffset now) =>
        Compose(settings, new MessageContent(to.ToArray(), subject, textBody, null), now, Guid.CreateVersion7(now).ToString("N"));

    /// <summary>Builds the message: From, Sender and Reply-To as the scope's impersonation policy
    /// decides (<see cref="SenderIdentity.Decide"/>); text and HTML become multipart/alternative;
    /// attachments multipart/mixed. The Message-ID is <c>&lt;id@domain of the configured From&gt;</c>,
    /// so that an outbox message and what reached a mailbox can be matched.</summary>
    public static MimeMessage Compose(EffectiveOutgoingSettings settings, MessageContent content, DateTimeOffset now, string id)
    {
        ArgumentNullException.ThrowIfNull(content);
        var identity = SenderIdentity.Decide(settings, content.Requested);
        var encoding = EncodingFor(settings.Charset.Value, content.Subject, content.Text ?? "", content.Html ?? "", identity.FromName ?? "", identity.SenderName ?? "");

        // Date and Message-ID given up front: MimeMessage() would otherwise make its own, from
        // the host name, for every message.
        var message = new MimeMessage(
            new Header(HeaderId.Date, DateUtils.FormatDate(now)),
            new Header(HeaderId.MessageId, $"<{id}@{identity.EnvelopeSender.AsciiDomain}>"));
        message.From.Add(new MailboxAddress(encoding, identity.FromName, identity.From.Value));
        if (identity.Sender is { } sender)
        {
            message.Sender = new MailboxAddress(encoding, identity.SenderName, sender.Value);
        }

        if (identity.ReplyTo is { } replyTo)
        {
            message.ReplyTo.Add(new MailboxAddress(encoding, null, replyTo.Value));
        }

        message.To.AddRange(content.To.Select(a => new MailboxAddress(encoding, null, a.Value)));
        message.Cc.AddRange(content.Cc.Select(a => new MailboxAddress(encoding, null, a.Value)));
        message.Headers.Replace(HeaderId.Subject, encoding, content.Subject);
        foreach (var (name, value) in content.Headers)
        {
            message.Headers.Add(name, encoding, value);
        }

        MimeEntity body = (content.Text, content.Html) switch
        {
            ({ } text, { } html) => new MultipartAlternative { TextPart(MimeKit.Text.TextFormat.Plain, encoding, text), TextPart(MimeKit.Text.TextFormat.Html, encoding, html) },
            (null, { } html) => TextPart(MimeKit.Text.TextFormat.Html, encoding, html),
            (var text, _) => TextPart(MimeKit.Text.TextFormat.Plain, encoding, text ?? ""),
        };

        if (content.Attachments.Count > 0)
        {
            var mixed = new Multipart("mixed") { body };
            foreach (var attachment in content.Attachments)
            {
                mixed.Add(new MimePart(ContentType.Parse(attachment.ContentType))
                {
                    Content = new MimeContent(new MemoryStream(attachment.Content)),
                    ContentDisposition = new ContentDisposition(ContentDisposition.Attachment),
                    ContentTransferEncoding = ContentEncoding.Base64,
                    FileName = attachment.FileName,
                });
            }

            body = mixed;
        }

        message.Body = body;

        // Choose transfer encodings now, for a 7-bit path: the bytes are then the same whatever
        // extensions the smart host offers (ISO-2022-JP stays 7bit, Latin-1 is encoded).
        message.Prepare(EncodingConstraint.SevenBit);
        FoldEncodedWords(message, encoding);
        return message;
    }

    /// <summary>RFC 2047 §2: an encoded-word is at most 75 characters, and a line holding one at
    /// most 76. MimeKit encodes for its default 78-character lines, which gives words of up to 84
    /// (strict readers and spam filters call that malformed); for 60-character lines every word
    /// stays within 60 and every line within 70. Only headers holding an encoded word are redone.</summary>
    private static readonly FormatOptions EncodedWordFormat = new() { MaxLineLength = 60, NewLineFormat = NewLineFormat.Dos };

    private static void FoldEncodedWords(MimeMessage message, Encoding encoding)
    {
        foreach (var header in message.Headers.ToArray())
        {
            if (header.RawValue.AsSpan().IndexOf("=?"u8) < 0)
            {
                continue;
            }

            var addresses = header.Id switch
            {
                HeaderId.From => message.From,
                HeaderId.Sender => message.Sender is { } sender ? [sender] : null,
                HeaderId.ReplyTo => message.ReplyTo,
                HeaderId.To => message.To,
                HeaderId.Cc => message.Cc,
                _ => (InternetAddressList?)null,
            };
            if (addresses is not null)
            {
                header.SetRawValue(Encoding.ASCII.GetBytes($" {addresses.ToString(EncodedWordFormat, true)}\r\n"));
            }
            else
            {
                header.SetValue(EncodedWordFormat, encoding, header.Value);
            }
        }
    }

    /// <summary>The message as stored and sent: CRLF line ends only.</summary>
    public static byte[] ToBytes(MimeMessage message)
    {
        using var stream = new MemoryStream();
        message.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, stream);
        return stream.ToArray();
    }

    private static TextPart TextPart(MimeKit.Text.TextFormat format, Encoding encoding, string text)
    {
        var part = new TextPart(format);
        part.SetText(encoding, NormalizeLineEndings(text));
        return part;
    }

    /// <summary>The scope's charset when it can carry every character; otherwise UTF-8, so that
    /// text is never replaced by question marks.</summary>
    public static Encoding EncodingFor(string charset, params string[] texts)
    {
        var strict = Encoding.GetEncoding(charset, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback);
        try
        {
            foreach (var text in texts)
            {
                strict.GetByteCount(text);
            }

            return Charsets.Get(charset);
        }
        catch (EncoderFallbackException)
        {
            return Encoding.UTF8;
        }
    }

    private static string NormalizeLineEndings(string text) =>
        text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
}
