namespace Herald.Relay;

/// <summary>How a command ended, for the state machine: completed (move to the table's next
/// state), refused (stay), or the session must end.</summary>
internal enum CommandOutcome
{
    Completed,
    Refused,
    Close,
}

/// <summary>One parsed SMTP command; each knows how to carry itself out in a session.</summary>
internal abstract record SmtpCommand
{
    public abstract SmtpVerb Verb { get; }

    /// <summary>Sends the command's reply (and whatever exchange it needs first).</summary>
    public abstract ValueTask<CommandOutcome> ExecuteAsync(RelaySession session, CancellationToken cancellationToken);
}

/// <summary>A command line parsed: the command, or the reply that tells the client what is wrong.</summary>
internal readonly record struct ParsedCommand(SmtpCommand? Command, SmtpReply? Error)
{
    public static implicit operator ParsedCommand(SmtpCommand command) => new(command, null);

    public static implicit operator ParsedCommand(SmtpReply error) => new(null, error);
}
