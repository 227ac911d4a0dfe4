namespace Herald.Relay;

/// <summary>RCPT TO:&lt;recipient&gt; (RFC 5321 §4.1.1.3); no parameters are supported (no DSN).</summary>
internal sealed record RcptCommand(string Recipient) : SmtpCommand
{
    public override SmtpVerb Verb => SmtpVerb.Rcpt;

    public static ParsedCommand Parse(string arguments)
    {
        if (!arguments.StartsWith("TO:", StringComparison.OrdinalIgnoreCase))
        {
            return SmtpReplies.SyntaxError;
        }

        if (!SmtpPath.TryParse(arguments[3..].TrimStart(' '), recipient: true, out var recipient, out var rest, out var error))
        {
            return error;
        }

        return string.IsNullOrWhiteSpace(rest) ? new RcptCommand(recipient) : SmtpReplies.UnknownParameter;
    }

    public override async ValueTask<CommandOutcome> ExecuteAsync(RelaySession session, CancellationToken cancellationToken)
    {
        var transaction = session.Transaction!;
        var refusal = transaction.Recipients.Count >= session.Options.MaxRecipients ? SmtpReplies.TooManyRecipients
            : !transaction.SmtpUtf8 && SmtpPath.IsInternational(Recipient) ? SmtpReplies.NonAsciiAddress
            : await session.Gate.CheckRecipientAsync(session.Info, Recipient, cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            await session.ReplyAsync(refusal, cancellationToken).ConfigureAwait(false);
            return CommandOutcome.Refused;
        }

        transaction.Recipients.Add(Recipient);
        await session.ReplyAsync(SmtpReplies.RecipientOk, cancellationToken).ConfigureAwait(false);
        return CommandOutcome.Completed;
    }
}
