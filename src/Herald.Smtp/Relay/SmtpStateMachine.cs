using System.Collections.Frozen;

namespace Herald.Relay;

internal enum SmtpVerb
{
    Helo,
    Ehlo,
    StartTls,
    Auth,
    Mail,
    Rcpt,
    Data,
    Rset,
    Noop,
    Vrfy,
    Help,
    Quit,
}

/// <summary>Where a session is in the protocol; TLS and authentication are properties of the
/// session beside it.</summary>
internal enum SmtpState
{
    /// <summary>Greeted by the server, no HELO/EHLO yet (also right after STARTTLS).</summary>
    Connected,

    /// <summary>HELO/EHLO done, no transaction.</summary>
    Greeted,

    /// <summary>MAIL accepted.</summary>
    MailGiven,

    /// <summary>At least one RCPT accepted.</summary>
    RecipientsGiven,
}

/// <summary>What the server does with input the client sent after a command without waiting for
/// its reply (RFC 2920 §3.1).</summary>
internal enum PipelinedInput
{
    /// <summary>The command may be anywhere in a pipelined group.</summary>
    Allowed,

    /// <summary>The command must be the last of a group: more input is a protocol violation, 554
    /// and disconnect.</summary>
    Refused,

    /// <summary>Plain-text input after STARTTLS is thrown away before the handshake (CVE-2011-0411).</summary>
    Discarded,
}

/// <summary>
/// The relay's SMTP state machine as a table: for each command, the states it is legal in and the
/// state it leads to when it succeeds. A command that is refused (by the gate, a limit, a syntax
/// error) leaves the state as it was; one legal nowhere in the current state gets 503.
/// </summary>
internal static class SmtpStateMachine
{
    private static readonly SmtpState[] Anywhere = Enum.GetValues<SmtpState>();
    private static readonly SmtpState[] InTransaction = [SmtpState.MailGiven, SmtpState.RecipientsGiven];

    private sealed record Rule(SmtpVerb Verb, SmtpState[] LegalIn, SmtpState? LeadsTo, PipelinedInput After, string WhenIllegal);

    //           command           legal in                       leads to (null: stays)       pipelined after it         503 text when illegal
    private static readonly Rule[] Rules =
    [
        new(SmtpVerb.Ehlo,     Anywhere,                           SmtpState.Greeted,         PipelinedInput.Refused,   ""),
        new(SmtpVerb.Helo,     Anywhere,                           SmtpState.Greeted,         PipelinedInput.Refused,   ""),
        new(SmtpVerb.StartTls, [SmtpState.Greeted],                SmtpState.Connected,       PipelinedInput.Discarded, "STARTTLS needs EHLO first and no transaction"),
        new(SmtpVerb.Auth,     [SmtpState.Greeted],                null,                      PipelinedInput.Refused,   "AUTH needs EHLO first and no transaction"),
        new(SmtpVerb.Mail,     [SmtpState.Greeted],                SmtpState.MailGiven,       PipelinedInput.Allowed,   "MAIL needs EHLO/HELO first, and no transaction in progress"),
        new(SmtpVerb.Rcpt,     InTransaction,                      SmtpState.RecipientsGiven, PipelinedInput.Allowed,   "RCPT needs MAIL first"),
        new(SmtpVerb.Data,     [SmtpState.RecipientsGiven],        SmtpState.Greeted,         PipelinedInput.Refused,   "DATA needs MAIL and an accepted RCPT first"),
        new(SmtpVerb.Rset,     [SmtpState.Connected],              null,                      PipelinedInput.Allowed,   ""),
        new(SmtpVerb.Rset,     [SmtpState.Greeted, .. InTransaction], SmtpState.Greeted,      PipelinedInput.Allowed,   ""),
        new(SmtpVerb.Noop,     Anywhere,                           null,                      PipelinedInput.Allowed,   ""),
        new(SmtpVerb.Vrfy,     Anywhere,                           null,                      PipelinedInput.Allowed,   ""),
        new(SmtpVerb.Help,     Anywhere,                           null,                      PipelinedInput.Allowed,   ""),
        new(SmtpVerb.Quit,     Anywhere,                           null,                      PipelinedInput.Allowed,   ""),
    ];

    private static readonly FrozenDictionary<(SmtpState, SmtpVerb), SmtpState> Transitions = Rules
        .SelectMany(r => r.LegalIn.Select(state => (Key: (state, r.Verb), Next: r.LeadsTo ?? state)))
        .ToFrozenDictionary(t => t.Key, t => t.Next);

    private static readonly FrozenDictionary<SmtpVerb, Rule> ByVerb = Rules.DistinctBy(r => r.Verb).ToFrozenDictionary(r => r.Verb);

    /// <summary>The state after <paramref name="verb"/> succeeds in <paramref name="state"/>, or
    /// null when the command is not legal there.</summary>
    public static SmtpState? Next(SmtpState state, SmtpVerb verb) =>
        Transitions.TryGetValue((state, verb), out var next) ? next : null;

    public static PipelinedInput PipelinedAfter(SmtpVerb verb) => ByVerb[verb].After;

    public static SmtpReply SequenceError(SmtpVerb verb) => SmtpReplies.BadSequence(ByVerb[verb].WhenIllegal);
}
