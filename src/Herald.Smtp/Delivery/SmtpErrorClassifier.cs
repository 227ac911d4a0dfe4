using System.Net.Sockets;
using System.Text;
using Herald.Settings;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace Herald.Delivery;

/// <summary>Why a session could not do its work: the stage, the outcome it means for every
/// recipient involved, and the sentence (with the server's reply when there was one).</summary>
internal sealed record SessionFailure(RecipientOutcome Outcome, DeliveryStage Stage, string Message, SmtpReplyText? Reply = null, bool ConfigurationError = false);

/// <summary>
/// What a failure talking to a smart host means for the recipients it stopped, as a value, for
/// any exception whatsoever: this never throws. A reply code decides only where the reply is about
/// the message (MAIL, DATA, the end of data; RCPT is per recipient, see <see cref="SmtpSession"/>):
/// a 5xx there bounces. Before the transaction (the greeting, EHLO, STARTTLS, AUTH) a refusal is
/// the server's or its configuration's, never the message's, so it defers, as Postfix does with a
/// 5xx greeting. Anything unknown defers with the exception's own message: a surprise from the
/// library costs one attempt, not the delivery loop.
/// </summary>
internal static class SmtpErrorClassifier
{
    /// <param name="exception">What MailKit (or the socket under it) threw.</param>
    /// <param name="progress">How far the conversation had come (<see cref="CommandTracker"/>).</param>
    /// <param name="trustRejection">Why the server's certificate was refused, if it was.</param>
    public static SessionFailure Classify(Exception exception, SmtpProgress progress, SmtpConnection settings, string? trustRejection)
    {
        try
        {
            return Known(exception, progress, settings, trustRejection)
                ?? new(RecipientOutcome.TransientFailure, progress.Stage,
                    $"Unexpected failure talking to {Server(settings)} ({progress.Step}): {exception.GetType().Name}: {FirstSentence(exception.Message)}.");
        }
        catch (Exception)
        {
            // A message that cannot even be described still defers rather than escape.
            return new(RecipientOutcome.TransientFailure, DeliveryStage.Connect, "Unexpected failure talking to the SMTP server.");
        }
    }

    private static SessionFailure? Known(Exception exception, SmtpProgress progress, SmtpConnection settings, string? trustRejection)
    {
        var server = Server(settings);
        var (stage, step, inTransaction) = (progress.Stage, progress.Step, progress.InTransaction);
        switch (exception)
        {
            case SslHandshakeException ex:
                return new(RecipientOutcome.TransientFailure, DeliveryStage.Tls,
                    $"The TLS handshake with {server} failed: {trustRejection ?? FirstSentence(ex.Message)}; nothing was sent.", ConfigurationError: true);
            case NotSupportedException when !inTransaction && settings.Security == SmtpSecurity.StartTlsRequired && progress.LastCommand is null or "EHLO" or "HELO":
                return new(RecipientOutcome.TransientFailure, DeliveryStage.Tls,
                    $"{server} does not offer STARTTLS and this connection requires it (starttls-required); nothing was sent.", ConfigurationError: true);
            case AuthenticationException ex:
                // The sentence, not the bare reply, is what the recipients keep: it names the account.
                var refusal = AuthenticationReply(ex.Message);
                return new(RecipientOutcome.TransientFailure, DeliveryStage.Authenticate,
                    $"The server refused authentication as '{settings.Authentication.UserName}': {refusal?.ToString() ?? FirstSentence(ex.Message)}.{AuthenticationReplies.Advice(settings, ex.Message)}", ConfigurationError: true);
            case ServiceNotAuthenticatedException ex:
                return new(RecipientOutcome.TransientFailure, DeliveryStage.Authenticate,
                    $"{server} requires authentication ({step}): {FirstSentence(ex.Message)}; set a user name and password for this connection.", ConfigurationError: true);
            case SmtpCommandException ex:
                return Refused(ex, progress, server);
            case OperationCanceledException or TimeoutException:
                // Connecting (greeting, EHLO and STARTTLS included) has a deadline of its own;
                // after that, each reply has the command timeout (MailKit's TimeoutException).
                var limit = exception is OperationCanceledException && !inTransaction ? settings.ConnectTimeout : settings.CommandTimeout;
                return new(RecipientOutcome.TransientFailure, stage,
                    $"{server} did not answer within {limit.TotalSeconds:0} s ({step}).");
            case SmtpProtocolException or IOException or SocketException or ServiceNotConnectedException:
                var at = trustRejection is not null ? DeliveryStage.Tls : stage;
                return new(RecipientOutcome.TransientFailure, at,
                    $"The connection to {server} failed ({step}): {FirstSentence(exception.Message)}.");
            default:
                return null;
        }
    }

    /// <summary>A reply the server gave instead of the one expected.</summary>
    private static SessionFailure Refused(SmtpCommandException ex, SmtpProgress progress, string server)
    {
        var code = (int)ex.StatusCode;
        var reply = new SmtpReplyText(code, SmtpReplies.EnhancedCodeOf(ex.Message), ex.Message);
        if (!progress.InTransaction)
        {
            return new(RecipientOutcome.TransientFailure, progress.Stage,
                $"{server} refused {progress.Step}: {reply}; nothing was sent.", reply, ConfigurationError: progress.Stage == DeliveryStage.Tls);
        }

        var (failedAt, step) = ex.ErrorCode switch
        {
            SmtpErrorCode.SenderNotAccepted => (DeliveryStage.MailFrom, "MAIL FROM"),
            SmtpErrorCode.RecipientNotAccepted => (DeliveryStage.RcptTo, "RCPT TO"),
            SmtpErrorCode.MessageNotAccepted => (DeliveryStage.Data, "the end of data"),
            // Within a transaction MailKit expects a code of its own only after DATA (354).
            _ => (DeliveryStage.Data, "DATA"),
        };
        return new(code >= 500 ? RecipientOutcome.PermanentFailure : RecipientOutcome.TransientFailure,
            failedAt, $"The server replied {reply} ({step}).", reply);
    }

    /// <summary>The server's reply in MailKit's wording of a refused AUTH ("535: 5.7.8 …").</summary>
    private static SmtpReplyText? AuthenticationReply(string message) =>
        message is [>= '2' and <= '5', >= '0' and <= '9', >= '0' and <= '9', ':', ' ', ..]
            ? new SmtpReplyText(int.Parse(message[..3], System.Globalization.CultureInfo.InvariantCulture), SmtpReplies.EnhancedCodeOf(message[5..]), message[5..])
            : null;

    private static string Server(SmtpConnection settings) => $"{settings.Host}:{settings.Port}";

    private static string FirstSentence(string? message)
    {
        var first = (message ?? "").Split('\n')[0].Trim().TrimEnd('.');
        return first.Length > 300 ? first[..300] + "…" : first;
    }
}

/// <summary>
/// Follows the commands the client sends, so that a failure is placed at the step it interrupted
/// (MailKit's exceptions do not always say whether the greeting, EHLO or STARTTLS failed). It
/// wraps the session's protocol logger; after DATA the message content is not looked at.
/// </summary>
internal sealed class CommandTracker(IProtocolLogger inner) : IProtocolLogger
{
    // The steps a failure can interrupt; RSET and QUIT only clean up after one.
    private static readonly string[] Verbs = ["HELO", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "BDAT"];

    private bool _inContent;

    /// <summary>How far the conversation has come.</summary>
    public SmtpProgress Progress { get; private set; }

    public IAuthenticationSecretDetector? AuthenticationSecretDetector
    {
        get => inner.AuthenticationSecretDetector;
        set => inner.AuthenticationSecretDetector = value;
    }

    /// <summary>A new transaction starts: commands are followed again.</summary>
    public void BeginTransaction()
    {
        _inContent = false;
        Progress = Progress with { LastCommand = null, InTransaction = true };
    }

    public void LogConnect(Uri uri)
    {
        Progress = Progress with { Connected = true };
        inner.LogConnect(uri);
    }

    public void LogClient(byte[] buffer, int offset, int count)
    {
        if (!_inContent)
        {
            // One write may hold several pipelined commands: the last one counts.
            foreach (var line in Encoding.ASCII.GetString(buffer, offset, Math.Min(count, 4096)).Split("\r\n", StringSplitOptions.RemoveEmptyEntries))
            {
                var verb = line.Split(' ', 2)[0].ToUpperInvariant();
                if (Verbs.Contains(verb))
                {
                    Progress = Progress with { LastCommand = verb };
                    _inContent = verb is "DATA" or "BDAT";
                }
            }
        }

        inner.LogClient(buffer, offset, count);
    }

    public void LogServer(byte[] buffer, int offset, int count) => inner.LogServer(buffer, offset, count);

    public void Dispose() => inner.Dispose();
}

/// <summary>How far an SMTP conversation had come when it failed.</summary>
/// <param name="Connected">The connection was made (the greeting is awaited or was received).</param>
/// <param name="LastCommand">The verb of the last command sent in this phase; null before the first.</param>
/// <param name="InTransaction">The transaction had begun (MAIL FROM is being or was sent).</param>
internal readonly record struct SmtpProgress(bool Connected, string? LastCommand, bool InTransaction)
{
    /// <summary>Where the delivery stopped, as <see cref="DeliveryResult"/> says it.</summary>
    public DeliveryStage Stage => LastCommand switch
    {
        _ when !Connected => DeliveryStage.Connect,
        "STARTTLS" when !InTransaction => DeliveryStage.Tls,
        "AUTH" when !InTransaction => DeliveryStage.Authenticate,
        "RCPT" => DeliveryStage.RcptTo,
        "DATA" or "BDAT" => DeliveryStage.Data,
        _ when InTransaction => DeliveryStage.MailFrom,
        _ => DeliveryStage.Connect,
    };

    /// <summary>The step as an administrator reads it: "the greeting", "EHLO", "STARTTLS", "DATA"…</summary>
    public string Step => LastCommand switch
    {
        _ when !Connected => "Connect",
        null when !InTransaction => "the greeting",
        null or "MAIL" => "MAIL FROM",
        "RCPT" => "RCPT TO",
        _ => LastCommand,
    };
}
