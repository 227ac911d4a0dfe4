using System.Net;
using System.Net.Sockets;
using Herald.Settings;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Herald.Delivery;

/// <summary>Why a session could not do its work: the stage, the outcome it means for every
/// recipient involved, and the sentence (with the server's reply when there was one).</summary>
internal sealed record SessionFailure(RecipientOutcome Outcome, DeliveryStage Stage, string Message, SmtpReplyText? Reply = null, bool ConfigurationError = false);

/// <summary>
/// One SMTP connection to a smart host, opened (connected, TLS, authenticated) once and used for
/// one or more transactions. Every MailKit error is mapped here to a value: command errors by
/// their reply code, protocol and I/O errors as transient.
/// </summary>
internal sealed partial class SmtpSession : IDisposable
{
    private readonly RecipientRecordingSmtpClient _client;
    private readonly SmtpConnection _settings;

    private SmtpSession(RecipientRecordingSmtpClient client, SmtpConnection settings)
    {
        _client = client;
        _settings = settings;
    }

    public bool IsUsable => _client.IsConnected;

    /// <summary>The server's advertised SIZE limit; null when it announced none.</summary>
    public long? MaxSize => _client.Capabilities.HasFlag(SmtpCapabilities.Size) && _client.MaxSize > 0 ? (long)_client.MaxSize : null;

    /// <summary>When the pool last put the session back; older idle sessions are closed.</summary>
    public DateTimeOffset LastUsed { get; set; }

    public static async Task<(SmtpSession? Session, SessionFailure? Failure)> OpenAsync(
        OpenedConnection connection, AccessTokens tokens, IProtocolLogger logger, CancellationToken cancellationToken)
    {
        var settings = connection.Settings;
        var client = new RecipientRecordingSmtpClient(logger);
        var trust = new ServerCertificateCheck(settings.Trust);
        client.ServerCertificateValidationCallback = trust.Validate;
        client.CheckCertificateRevocation = settings.Trust.Mode == ServerTrustMode.System;
        client.Timeout = (int)settings.CommandTimeout.TotalMilliseconds;
        if (connection.ClientCertificate is { } certificate)
        {
            client.ClientCertificates = [certificate];
        }

        var stage = DeliveryStage.Connect;
        try
        {
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                connectTimeout.CancelAfter(settings.ConnectTimeout);
                await client.ConnectAsync(settings.Host, settings.Port, SocketOptions(settings.Security), connectTimeout.Token).ConfigureAwait(false);
            }

            if (!settings.Authentication.IsAnonymous)
            {
                stage = DeliveryStage.Authenticate;
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
                    return (null, new SessionFailure(RecipientOutcome.TransientFailure, stage, problem, ConfigurationError: true));
                }

                if (await AuthenticateAsync(client, connection, tokens, cancellationToken).ConfigureAwait(false) is { } refused)
                {
                    client.Dispose();
                    return (null, refused);
                }
            }

            return (new SmtpSession(client, settings), null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            client.Dispose();
            return (null, Classify(ex, stage, settings, trust.Rejection));
        }
    }

    /// <summary>One transaction: results for every recipient, or the failure that stopped it.</summary>
    public async Task<(IReadOnlyList<RecipientResult> Results, SessionFailure? Failure)> SendAsync(
        MimeMessage message, string envelopeSender, IReadOnlyList<string> recipients, CancellationToken cancellationToken)
    {
        _client.Results.Clear();
        try
        {
            var response = await _client.SendAsync(
                message, MailboxAddress.Parse(envelopeSender), recipients.Select(r => MailboxAddress.Parse(r)), cancellationToken).ConfigureAwait(false);
            var accepted = new SmtpReplyText(250, SmtpReplies.EnhancedCodeOf(response), response);
            return (recipients.Select(r => _client.Results.TryGetValue(r, out var refused)
                ? refused
                : new RecipientResult(r, RecipientOutcome.Sent, accepted, $"accepted: {accepted}")).ToArray(), null);
        }
        catch (NoRecipientsAcceptedException)
        {
            return (recipients.Select(r => _client.Results[r]).ToArray(), null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var failure = Classify(ex, DeliveryStage.MailFrom, _settings, null);
            // Recipients already refused keep their own replies; the rest share the failure.
            return (recipients.Select(r => _client.Results.TryGetValue(r, out var refused)
                ? refused
                : new RecipientResult(r, failure.Outcome, failure.Reply, failure.Message)).ToArray(), failure);
        }
    }

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

    private static SessionFailure Classify(Exception exception, DeliveryStage stage, SmtpConnection settings, string? trustRejection)
    {
        var server = $"{settings.Host}:{settings.Port}";
        switch (exception)
        {
            case SslHandshakeException ex:
                return new(RecipientOutcome.TransientFailure, DeliveryStage.Tls,
                    $"The TLS handshake with {server} failed: {trustRejection ?? FirstSentence(ex.Message)}; nothing was sent.", ConfigurationError: true);
            case NotSupportedException when stage == DeliveryStage.Connect && settings.Security == SmtpSecurity.StartTlsRequired:
                return new(RecipientOutcome.TransientFailure, DeliveryStage.Tls,
                    $"{server} does not offer STARTTLS and this connection requires it (starttls-required); nothing was sent.", ConfigurationError: true);
            case MailKit.Security.AuthenticationException ex:
                return new(RecipientOutcome.TransientFailure, DeliveryStage.Authenticate,
                    $"The server refused authentication as '{settings.Authentication.UserName}': {ex.Message}", ConfigurationError: true);
            case SmtpCommandException ex:
                var reply = new SmtpReplyText((int)ex.StatusCode, SmtpReplies.EnhancedCodeOf(ex.Message), ex.Message);
                var failedAt = ex.ErrorCode switch
                {
                    SmtpErrorCode.SenderNotAccepted => DeliveryStage.MailFrom,
                    SmtpErrorCode.RecipientNotAccepted => DeliveryStage.RcptTo,
                    SmtpErrorCode.MessageNotAccepted => DeliveryStage.Data,
                    _ => stage,
                };
                return new((int)ex.StatusCode >= 500 ? RecipientOutcome.PermanentFailure : RecipientOutcome.TransientFailure,
                    failedAt, $"The server replied {reply} ({failedAt}).", reply);
            case OperationCanceledException or TimeoutException:
                var limit = stage == DeliveryStage.Connect ? settings.ConnectTimeout : settings.CommandTimeout;
                return new(RecipientOutcome.TransientFailure, stage, $"{server} did not answer within {limit.TotalSeconds:0} s ({stage}).");
            case SmtpProtocolException or IOException or SocketException or ServiceNotConnectedException:
                var at = trustRejection is not null ? DeliveryStage.Tls : stage;
                return new(RecipientOutcome.TransientFailure, at, $"The connection to {server} failed ({at}): {FirstSentence(exception.Message)}.");
            default:
                throw new InvalidOperationException($"Unexpected failure talking to {server}.", exception);
        }
    }

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

    private static string FirstSentence(string message) => message.Split('\n')[0].Trim().TrimEnd('.');

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
