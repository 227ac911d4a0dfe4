using System.Text;

namespace Herald.Relay;

/// <summary>Turns one command line into a command, or into the reply that says what is wrong.</summary>
internal static class SmtpCommandParser
{
    /// <summary>RFC 4954 §4: an AUTH line with an initial response may exceed 512 octets; servers
    /// must accept at least 12288.</summary>
    public const int MaxAuthLineLength = 12_288;

    /// <param name="line">The line without its CR LF.</param>
    /// <param name="maxCommandLineLength">Most octets of a command line other than AUTH, CR LF included.</param>
    public static ParsedCommand Parse(ReadOnlySpan<byte> line, int maxCommandLineLength)
    {
        // Commands are ASCII; SMTPUTF8 addresses are UTF-8 (RFC 6531 §3.3). Anything else is garbage.
        if (!System.Text.Unicode.Utf8.IsValid(line))
        {
            return SmtpReplies.UnknownCommand;
        }

        var text = Encoding.UTF8.GetString(line);
        var space = text.IndexOf(' ');
        var verb = space < 0 ? text : text[..space];
        var arguments = space < 0 ? "" : text[(space + 1)..].TrimEnd(' ');
        var isAuth = verb.Equals("AUTH", StringComparison.OrdinalIgnoreCase);
        if (!isAuth && line.Length + 2 > maxCommandLineLength)
        {
            return SmtpReplies.CommandLineTooLong;
        }

        return verb.ToUpperInvariant() switch
        {
            "EHLO" => HeloCommand.Parse(arguments, extended: true),
            "HELO" => HeloCommand.Parse(arguments, extended: false),
            "MAIL" => MailCommand.Parse(arguments),
            "RCPT" => RcptCommand.Parse(arguments),
            "DATA" => NoArguments(arguments, new DataCommand()),
            "RSET" => NoArguments(arguments, new RsetCommand()),
            "NOOP" => new NoopCommand(),
            "VRFY" => new VrfyCommand(),
            "HELP" => new HelpCommand(),
            "QUIT" => NoArguments(arguments, new QuitCommand()),
            "STARTTLS" => NoArguments(arguments, new StartTlsCommand()),
            "AUTH" => AuthCommand.Parse(arguments),
            _ => SmtpReplies.UnknownCommand,
        };
    }

    private static ParsedCommand NoArguments(string arguments, SmtpCommand command) =>
        arguments.Length == 0 ? command : SmtpReplies.SyntaxError;
}
