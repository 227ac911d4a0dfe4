namespace Herald.Relay;

/// <summary>RSET (RFC 5321 §4.1.1.5): ends the transaction, keeps HELO/EHLO.</summary>
internal sealed record RsetCommand : SmtpCommand
{
    public override SmtpVerb Verb => SmtpVerb.Rset;

    public override async ValueTask<CommandOutcome> ExecuteAsync(RelaySession session, CancellationToken cancellationToken)
    {
        session.ResetTransaction();
        await session.ReplyAsync(SmtpReplies.Ok, cancellationToken).ConfigureAwait(false);
        return CommandOutcome.Completed;
    }
}

/// <summary>NOOP (RFC 5321 §4.1.1.9); an argument is allowed and ignored.</summary>
internal sealed record NoopCommand : SmtpCommand
{
    public override SmtpVerb Verb => SmtpVerb.Noop;

    public override async ValueTask<CommandOutcome> ExecuteAsync(RelaySession session, CancellationToken cancellationToken)
    {
        await session.ReplyAsync(SmtpReplies.Ok, cancellationToken).ConfigureAwait(false);
        return CommandOutcome.Completed;
    }
}

/// <summary>VRFY (RFC 5321 §3.5.3): never verifies, so it tells nothing about mailboxes.</summary>
internal sealed record VrfyCommand : SmtpCommand
{
    public override SmtpVerb Verb => SmtpVerb.Vrfy;

    public override async ValueTask<CommandOutcome> ExecuteAsync(RelaySession session, CancellationToken cancellationToken)
    {
        await session.ReplyAsync(SmtpReplies.CannotVerify, cancellationToken).ConfigureAwait(false);
        return CommandOutcome.Completed;
    }
}

/// <summary>HELP (RFC 5321 §4.1.1.8).</summary>
internal sealed record HelpCommand : SmtpCommand
{
    public override SmtpVerb Verb => SmtpVerb.Help;

    public override async ValueTask<CommandOutcome> ExecuteAsync(RelaySession session, CancellationToken cancellationToken)
    {
        await session.ReplyAsync(SmtpReplies.Help, cancellationToken).ConfigureAwait(false);
        return CommandOutcome.Completed;
    }
}

/// <summary>QUIT (RFC 5321 §4.1.1.10).</summary>
internal sealed record QuitCommand : SmtpCommand
{
    public override SmtpVerb Verb => SmtpVerb.Quit;

    public override async ValueTask<CommandOutcome> ExecuteAsync(RelaySession session, CancellationToken cancellationToken)
    {
        await session.ReplyAsync(SmtpReplies.Bye, cancellationToken).ConfigureAwait(false);
        return CommandOutcome.Close;
    }
}
