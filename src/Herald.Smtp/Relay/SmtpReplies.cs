namespace Herald.Relay;

/// <summary>The replies the protocol code itself gives, with their RFC 5321 and RFC 3463 codes.
/// (The greeting and the EHLO reply carry no enhanced code: RFC 2034 §3.)</summary>
internal static class SmtpReplies
{
    public static readonly SmtpReply Ok = new(250, "2.0.0", "Ok");
    public static readonly SmtpReply SenderOk = new(250, "2.1.0", "Sender ok");
    public static readonly SmtpReply RecipientOk = new(250, "2.1.5", "Recipient ok");
    public static readonly SmtpReply StartData = new(354, null, "End data with <CR><LF>.<CR><LF>");
    public static readonly SmtpReply Bye = new(221, "2.0.0", "Bye");
    public static readonly SmtpReply ReadyForTls = new(220, "2.0.0", "Ready to start TLS");
    public static readonly SmtpReply AuthSucceeded = new(235, "2.7.0", "Authentication successful");
    public static readonly SmtpReply Help = new(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY STARTTLS AUTH HELP");

    // RFC 5321 §3.5.3: a server that does not verify addresses answers VRFY with 252, not 502
    // (a 500/502 answer is "not in full compliance"); 252 tells nothing about the mailbox.
    public static readonly SmtpReply CannotVerify = new(252, "2.5.0", "Cannot VRFY user; send mail and it will be tried");

    public static readonly SmtpReply BadSenderSyntax = new(501, "5.1.7", "Bad sender address syntax");
    public static readonly SmtpReply BadRecipientSyntax = new(501, "5.1.3", "Bad recipient address syntax");
    public static readonly SmtpReply SyntaxError = new(501, "5.5.4", "Syntax error in parameters or arguments");
    public static readonly SmtpReply UnknownCommand = new(500, "5.5.2", "Command unrecognized");
    public static readonly SmtpReply CommandLineTooLong = new(500, "5.5.2", "Line too long");
    public static readonly SmtpReply CommandNotCrlf = new(500, "5.5.2", "Command lines must end with <CR><LF>");
    public static readonly SmtpReply UnknownParameter = new(555, "5.5.4", "Unsupported MAIL FROM or RCPT TO parameter");
    public static readonly SmtpReply NonAsciiAddress = new(553, "5.6.7", "A non-ASCII address needs SMTPUTF8");
    public static readonly SmtpReply MessageTooLarge = new(552, "5.3.4", "Message size exceeds fixed maximum message size");
    public static readonly SmtpReply TooManyRecipients = new(452, "4.5.3", "Too many recipients");
    public static readonly SmtpReply BareLineEnd = new(554, "5.6.0", "Message refused: bare <CR> or <LF> in the data (RFC 5321 §2.3.8)");
    public static readonly SmtpReply TextLineTooLong = new(554, "5.6.0", "Message refused: a line is longer than 1000 octets (RFC 5321 §4.5.3.1.6)");
    public static readonly SmtpReply LocalError = new(451, "4.3.0", "Local error in processing; try again later");

    public static readonly SmtpReply AuthRequired = new(530, "5.7.0", "Authentication required");
    public static readonly SmtpReply AuthNeedsTls = new(538, "5.7.11", "Encryption required for requested authentication mechanism");
    public static readonly SmtpReply AuthFailed = new(535, "5.7.8", "Authentication credentials invalid");
    public static readonly SmtpReply AuthCancelled = new(501, "5.0.0", "Authentication cancelled");
    public static readonly SmtpReply AuthBadBase64 = new(501, "5.5.2", "Cannot decode the response");
    public static readonly SmtpReply AuthUnknownMechanism = new(504, "5.5.4", "Unrecognized authentication mechanism");
    public static readonly SmtpReply AlreadyAuthenticated = new(503, "5.5.1", "Already authenticated");
    public static readonly SmtpReply AlreadyTls = new(503, "5.5.1", "TLS already active");

    public static readonly SmtpReply ImproperPipelining = new(554, "5.5.0", "Improper use of SMTP command pipelining");
    public static readonly SmtpReply TalkedFirst = new(554, "5.5.0", "Protocol error: the client talked before the greeting");
    public static readonly SmtpReply Timeout = new(421, "4.4.2", "Timeout exceeded, closing connection");
    public static readonly SmtpReply TooManyErrors = new(421, "4.7.0", "Too many errors, closing connection");
    public static readonly SmtpReply TooManyCommands = new(421, "4.7.0", "Too many commands, closing connection");
    public static readonly SmtpReply TooManyAuthFailures = new(421, "4.7.0", "Too many failed authentications, closing connection");
    public static readonly SmtpReply TooManySessions = new(421, "4.7.0", "Too many connections, try again later");
    public static readonly SmtpReply TooManySessionsFromAddress = new(421, "4.7.0", "Too many connections from your address, try again later");
    public static readonly SmtpReply ShuttingDown = new(421, "4.3.2", "Service shutting down, closing connection");

    public static SmtpReply RelayTrick(string what) => new(553, "5.7.1", $"Relay refused: {what}");

    public static SmtpReply BadSequence(string text) => new(503, "5.5.1", $"Bad sequence of commands: {text}");
}
