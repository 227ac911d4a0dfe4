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
        DateTimeOffset now)
    {
        var from = settings.FromAddress.Value
            ?? throw new InvalidOperationException($"Scope {settings.Scope} has no From address; callers check this first.");
        var encoding = EncodingFor(settings.Charset.Value, subject, textBody, settings.FromName.Value ?? "");

        var message = new MimeMessage();
        message.From.Add(new MailboxAddress(encoding, settings.FromName.Value, from.Value));
        if (settings.ReplyTo.Value is { } replyTo)
        {
            message.ReplyTo.Add(new MailboxAddress(encoding, null, replyTo.Value));
        }

        foreach (var recipient in to)
        {
            message.To.Add(new MailboxAddress(encoding, null, recipient.Value));
        }

        message.Headers.Replace(HeaderId.Subject, encoding, subject);
        message.Date = now;
        message.MessageId = MimeUtils.GenerateMessageId(from.Value[(from.Value.LastIndexOf('@') + 1)..]);

        var body = new TextPart(MimeKit.Text.TextFormat.Plain);
        body.SetText(encoding, NormalizeLineEndings(textBody));
        message.Body = body;

        // Choose transfer encodings now, for a 7-bit path: the bytes are then the same whatever
        // extensions the smart host offers (ISO-2022-JP stays 7bit, Latin-1 becomes quoted-printable).
        message.Prepare(EncodingConstraint.SevenBit);
        return message;
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
