namespace Herald.Relay;

/// <summary>MAIL FROM:&lt;sender&gt; [SIZE=n] [BODY=7BIT|8BITMIME] [SMTPUTF8] [AUTH=…]
/// (RFC 5321 §4.1.1.2, RFC 1870, RFC 6152, RFC 6531, RFC 4954 §5).</summary>
internal sealed record MailCommand(string Sender, long? Size, bool EightBitMime, bool SmtpUtf8) : SmtpCommand
{
    public override SmtpVerb Verb => SmtpVerb.Mail;

    public static ParsedCommand Parse(string arguments)
    {
        if (!arguments.StartsWith("FROM:", StringComparison.OrdinalIgnoreCase))
        {
            return SmtpReplies.SyntaxError;
        }

        if (!SmtpPath.TryParse(arguments[5..].TrimStart(' '), recipient: false, out var sender, out var rest, out var error))
        {
            return error;
        }

        long? size = null;
        bool eightBit = false, smtpUtf8 = false;
        foreach (var parameter in rest.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var (keyword, value) = SplitParameter(parameter);
            switch (keyword.ToUpperInvariant())
            {
                case "SIZE" when value is not null && value.All(char.IsAsciiDigit) && long.TryParse(value, out var declared):
                    size = declared;
                    break;
                case "BODY" when value is not null && (value.Equals("8BITMIME", StringComparison.OrdinalIgnoreCase) || value.Equals("7BIT", StringComparison.OrdinalIgnoreCase)):
                    eightBit = value.Equals("8BITMIME", StringComparison.OrdinalIgnoreCase);
                    break;
                case "SMTPUTF8" when value is null:
                    smtpUtf8 = true;
                    break;
                case "AUTH" when value is not null:
                    // RFC 4954 §5: the submitter's identity as the client asserts it; not trusted, not needed.
                    break;
                case "SIZE" or "BODY" or "SMTPUTF8" or "AUTH":
                    return SmtpReplies.SyntaxError;
                default:
                    return SmtpReplies.UnknownParameter;
            }
        }

        return new MailCommand(sender, size, eightBit, smtpUtf8);
    }

    internal static (string Keyword, string? Value) SplitParameter(string parameter)
    {
        var equals = parameter.IndexOf('=');
        return equals < 0 ? (parameter, null) : (parameter[..equals], parameter[(equals + 1)..]);
    }

    public override async ValueTask<CommandOutcome> ExecuteAsync(RelaySession session, CancellationToken cancellationToken)
    {
        var refusal = session.Rules.Required && session.AuthenticatedAs is null ? SmtpReplies.AuthRequired
            : Size > session.Options.MaxMessageBytes ? SmtpReplies.MessageTooLarge
            : !SmtpUtf8 && SmtpPath.IsInternational(Sender) ? SmtpReplies.NonAsciiAddress
            : await session.Gate.CheckSenderAsync(session.Info, Sender, Size, cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            await session.ReplyAsync(refusal, cancellationToken).ConfigureAwait(false);
            return CommandOutcome.Refused;
        }

        session.BeginTransaction(this);
        await session.ReplyAsync(SmtpReplies.SenderOk, cancellationToken).ConfigureAwait(false);
        return CommandOutcome.Completed;
    }
}
