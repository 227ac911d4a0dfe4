namespace Herald.Relay;

/// <summary>STARTTLS (RFC 3207): TLS 1.2 or later, then the session starts over (§4.2).</summary>
internal sealed record StartTlsCommand : SmtpCommand
{
    public override SmtpVerb Verb => SmtpVerb.StartTls;

    public override async ValueTask<CommandOutcome> ExecuteAsync(RelaySession session, CancellationToken cancellationToken)
    {
        if (session.IsTls)
        {
            await session.ReplyAsync(SmtpReplies.AlreadyTls, cancellationToken).ConfigureAwait(false);
            return CommandOutcome.Refused;
        }

        await session.ReplyAsync(SmtpReplies.ReadyForTls, cancellationToken).ConfigureAwait(false);
        return await session.StartTlsAsync(cancellationToken).ConfigureAwait(false) ? CommandOutcome.Completed : CommandOutcome.Close;
    }
}
