namespace Herald.Relay;

/// <summary>HELO or EHLO (RFC 5321 §4.1.1.1): starts over, without a transaction.</summary>
internal sealed record HeloCommand(string ClientName, bool Extended) : SmtpCommand
{
    public override SmtpVerb Verb => Extended ? SmtpVerb.Ehlo : SmtpVerb.Helo;

    public static ParsedCommand Parse(string arguments, bool extended) =>
        arguments.Length == 0 ? new SmtpReply(501, "5.5.4", $"{(extended ? "EHLO" : "HELO")} needs a domain or address literal") : new HeloCommand(arguments, extended);

    public override async ValueTask<CommandOutcome> ExecuteAsync(RelaySession session, CancellationToken cancellationToken)
    {
        session.ResetTransaction();
        session.HeloName = ClientName;
        await session.ReplyAsync(Extended ? session.EhloReply() : new SmtpReply(250, null, session.HostName), cancellationToken).ConfigureAwait(false);
        return CommandOutcome.Completed;
    }
}
