using System.Net;
using System.Net.Sockets;
using Herald.Settings;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Herald.Delivery;

/// <summary>
/// One SMTP connection to a smart host, opened (connected, TLS, authenticated) once and used for
/// one or more transactions. Nothing it does throws for what the server or the network does:
/// every failure becomes a value (<see cref="SmtpErrorClassifier"/>), and a refused recipient
/// gets its own result while the others go on.
/// </summary>
internal sealed partial class SmtpSession : IDisposable
{
    private readonly RecipientRecordingSmtpClient _client;
    private readonly CommandTracker _commands;
    private readonly SmtpConnection _settings;

    private SmtpSession(RecipientRecordingSmtpClient client, CommandTracker commands, SmtpConnection settings)
    {
        _client = client;
        _commands = commands;
        _settings = settings;
    }

    public bool IsUsable => _client.IsConnected;

    /// <summary>The server's advertised SIZE limit; null when it announced none.</summary>
    public long? MaxSize => _client.Capabilities.HasFlag(SmtpCapabilities.Size) && _client.MaxSize > 0 ? (long)_client.MaxSize : null;

    /// <summary>When the pool last put the session back; older idle sessions are closed.</summary>
    public DateTimeOffset LastUsed { get; set; }

    public static async Task<(SmtpSession? Session, SessionFailure? Failure)> OpenAsync(
        OpenedConnection connection, AccessTokens? tokens, IProtocolLogger logger, string ehloName, CancellationToken cancellationToken, SessionObserver? observer = null)
    {
        var settings = connection.Settings;
        var commands = new CommandTracker(logger);
        var client = new RecipientRecordingSmtpClient(commands) { LocalDomain = ehloName };
        var trust = new ServerCertificateCheck(settings.Trust);
        observer?.Watch(trust);
        client.ServerCertificateValidationCallback = trust.Validate;
        client.CheckCertificateRevocation = settings.Trust.Mode == ServerTrustMode.System;
        client.Timeout = (int)settings.CommandTimeout.TotalMilliseconds;
        if (connection.ClientCertificate is { } certificate)
        {
            client.ClientCertificates = [certificate];
        }

        try
        {
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                connectTimeout.CancelAfter(settings.ConnectTimeout);
                await client.ConnectAsync(settings.Host, settings.Port, SocketOptions(settings.Security), connectTimeout.Token).ConfigureAwait(false);
            }

            observer?.Connected(client);

            if (!settings.Authentication.IsAnonymous)
            {
                if (!client.IsSecure && !settings.AllowPlaintextAuth)
                {
                    // starttls-when-available against a server that offered no STARTTLS (or had it
                    // stripped on the way): the password is never sent in the clear unless allowed.
                    client.Dispose();
                    return (null, new SessionFailure(RecipientOutcome.TransientFailure, DeliveryStage.Tls,
                        $"{settings.Host}:{settings.Port} offered no STARTTLS, and SMTP connection {settings.Qualified} never sends its password unencrypted; nothing was sent. Use starttls-required, or set allow-plaintext-auth for a smart host on this machine.",
                        ConfigurationError: true));
                }

                if (AuthenticationProblem(client, settings.Authentication) is { } problem)
                {
                    client.Dispose();
                    return (null, new SessionFailure(RecipientOutcome.TransientFailure, DeliveryStage.Authenticate, problem, ConfigurationError: true));
                }

                if (await AuthenticateAsync(client, connection, tokens, cancellationToken).ConfigureAwait(false) is { } refused)
                {
                    client.Dispose();
                    return (null, refused);
                }
            }

            return (new SmtpSession(client, commands, settings), null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            client.Dispose();
            return (null, SmtpErrorClassifier.Classify(ex, commands.Progress, settings, trust.Rejection));
        }
    }

    /// <summary>One transaction: results for every recipient, or the failure that stopped it.
    /// An empty <paramref name="envelopeSender"/> is the null sender, sent as <c>MAIL FROM:&lt;&gt;</c>.</summary>
    public async Task<(IReadOnlyList<RecipientResult> Results, SessionFailure? Failure)> SendAsync(
        MimeMessage message, string envelopeSender, IReadOnlyList<string> recipients, CancellationToken cancellationToken)
    {
        _client.Results.Clear();
        _commands.BeginTransaction();
        try
        {
            var sender = envelopeSender.Length == 0 ? new MailboxAddress(string.Empty, string.Empty) : MailboxAddress.Parse(envelopeSender);
            var response = await _client.SendAsync(
                message, sender, recipients.Select(r => MailboxAddress.Parse(r)), cancellationToken).ConfigureAwait(false);
            var accepted = new SmtpReplyText(250, SmtpReplies.EnhancedCodeOf(response), response);
            return (Results(recipients, r => new RecipientResult(r, RecipientOutcome.Sent, accepted, $"accepted: {accepted}")), null);
        }
        catch (NoRecipientsAcceptedException)
        {
            var none = new SessionFailure(RecipientOutcome.PermanentFailure, DeliveryStage.RcptTo, "The server accepted none of the recipients.");
            return (Results(recipients, r => new RecipientResult(r, none.Outcome, null, none.Message)), null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var failure = SmtpErrorClassifier.Classify(ex, _commands.Progress, _settings, trustRejection: null);
            return (Results(recipients, r => new RecipientResult(r, failure.Outcome, failure.Reply, failure.Message)), failure);
        }
    }

    /// <summary>Recipients the server refused keep their own replies; the rest get <paramref name="others"/>.</summary>
    private RecipientResult[] Results(IReadOnlyList<string> recipients, Func<string, RecipientResult> others) =>
        recipients.Select(r => _client.Results.TryGetValue(r, out var refused) ? refused : others(r)).ToArray();

    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_client.IsConnected)
            {
                await _client.DisconnectAsync(quit: true, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or SmtpProtocolException or SmtpCommandException or OperationCanceledException)
        {
            // Closing politely is a courtesy; the socket is closed below either way.
        }

        _client.Dispose();
    }

    public void Dispose() => _client.Dispose();

    private static SecureSocketOptions SocketOptions(SmtpSecurity security) => security switch
    {
        SmtpSecurity.None => SecureSocketOptions.None,
        SmtpSecurity.StartTlsWhenAvailable => SecureSocketOptions.StartTlsWhenAvailable,
        SmtpSecurity.StartTlsRequired => SecureSocketOptions.StartTls,
        SmtpSecurity.ImplicitTls => SecureSocketOptions.SslOnConnect,
        _ => throw new ArgumentOutOfRangeException(nameof(security), security, null),
    };

    /// <summary>Restricts MailKit to the allowed mechanisms; a sentence when none is left.</summary>
    private static string? AuthenticationProblem(SmtpClient client, SmtpAuthentication authentication)
    {
        if (authentication.Mechanisms.Count > 0)
        {
            client.AuthenticationMechanisms.RemoveWhere(m => !authentication.Mechanisms.Contains(m, StringComparer.OrdinalIgnoreCase));
        }

        if (client.AuthenticationMechanisms.Count > 0)
        {
            return null;
        }

        var offered = client.Capabilities.HasFlag(SmtpCapabilities.Authentication)
            ? "none of the allowed mechanisms (" + string.Join(", ", authentication.Mechanisms) + ")"
            : "no authentication at all" + (client.IsSecure ? "" : " on an unencrypted connection");
        return $"The server offers {offered}; nothing was sent.";
    }

    private sealed class NoRecipientsAcceptedException : Exception;

    /// <summary>Records each refused recipient instead of abandoning the whole message, so one
    /// bad address does not stop the others.</summary>
    private sealed class RecipientRecordingSmtpClient(IProtocolLogger logger) : SmtpClient(logger)
    {
        public Dictionary<string, RecipientResult> Results { get; } = new(StringComparer.OrdinalIgnoreCase);

        protected override void OnRecipientNotAccepted(MimeMessage message, MailboxAddress mailbox, SmtpResponse response)
        {
            var code = (int)response.StatusCode;
            var reply = new SmtpReplyText(code, SmtpReplies.EnhancedCodeOf(response.Response), response.Response);
            var outcome = code >= 500 ? RecipientOutcome.PermanentFailure : RecipientOutcome.TransientFailure;
            Results[mailbox.Address] = new RecipientResult(mailbox.Address, outcome, reply, $"refused: {reply}");
        }

        protected override void OnNoRecipientsAccepted(MimeMessage message) => throw new NoRecipientsAcceptedException();
    }
}

/// <summary>What <c>herald doctor</c> sees of a session being opened: the server's certificate,
/// and after the greeting, EHLO and any TLS, what the server offers (before the session narrows
/// the mechanisms to the allowed ones).</summary>
internal sealed class SessionObserver
{
    public ServerCertificateCheck? Trust { get; private set; }

    public bool HasConnected { get; private set; }

    public SmtpCapabilities Capabilities { get; private set; }

    public IReadOnlyList<string> Mechanisms { get; private set; } = [];

    public bool Secure { get; private set; }

    public string? Tls { get; private set; }

    public void Watch(ServerCertificateCheck trust) => Trust = trust;

    public void Connected(SmtpClient client)
    {
        HasConnected = true;
        Capabilities = client.Capabilities;
        Mechanisms = [.. client.AuthenticationMechanisms];
        Secure = client.IsSecure;
        Tls = client.IsSecure ? $"{client.SslProtocol} ({client.SslCipherSuite})" : null;
    }
}

internal static class SmtpReplies
{
    /// <summary>The RFC 3463 code at the start of a reply's text, if any (<c>5.1.1</c>).</summary>
    public static string? EnhancedCodeOf(string text)
    {
        var span = text.AsSpan().TrimStart();
        var end = span.IndexOf(' ');
        var candidate = (end < 0 ? span : span[..end]).ToString();
        var parts = candidate.Split('.');
        return parts.Length == 3 && parts[0] is "2" or "4" or "5" && parts.Skip(1).All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit))
            ? candidate
            : null;
    }
}
