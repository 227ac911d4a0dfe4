using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Herald.Settings;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Herald.Delivery;

/// <summary>
/// Delivery through MailKit: connects with the configured security, authenticates with the
/// allowed mechanisms, presents the client certificate, checks the server certificate, and turns
/// every outcome into a <see cref="DeliveryResult"/> (MailKit's command errors by reply code,
/// its protocol and I/O errors as transient).
/// </summary>
public sealed class MailKitDeliveryClient : IDeliveryClient
{
    public async Task<DeliveryResult> SendAsync(DeliveryRequest request, CancellationToken cancellationToken)
    {
        var settings = request.Connection.Settings;
        using var transcript = new MemoryStream();
        // The protocol logger redacts AUTH secrets (MailKit's SMTP secret detector).
        using var logger = new ProtocolLogger(transcript, leaveOpen: true) { RedactSecrets = true };
        using var client = new RecipientRecordingSmtpClient(logger);
        var trust = new ServerCertificateCheck(settings.Trust);
        client.ServerCertificateValidationCallback = trust.Validate;
        client.CheckCertificateRevocation = settings.Trust.Mode == ServerTrustMode.System;
        client.Timeout = (int)settings.CommandTimeout.TotalMilliseconds;
        if (request.Connection.ClientCertificate is { } certificate)
        {
            client.ClientCertificates = [certificate];
        }

        var stage = DeliveryStage.Connect;
        DeliveryResult Finish(RecipientOutcome outcome, DeliveryStage failedAt, string failure, SmtpReplyText? reply = null) =>
            new(request.Recipients.Select(r => client.Results.TryGetValue(r, out var known) && known.Outcome != RecipientOutcome.Sent
                    ? known
                    : new RecipientResult(r, outcome, reply, failure)).ToArray(),
                failedAt, failure, Text(transcript));

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
                if (AuthenticationProblem(client, settings.Authentication) is { } problem)
                {
                    return Finish(RecipientOutcome.TransientFailure, stage, problem);
                }

                await client.AuthenticateAsync(new NetworkCredential(settings.Authentication.UserName, request.Connection.Password), cancellationToken).ConfigureAwait(false);
            }

            stage = DeliveryStage.MailFrom;
            var recipients = request.Recipients.Select(r => MailboxAddress.Parse(r)).ToArray();
            var response = await client.SendAsync(request.Message, MailboxAddress.Parse(request.EnvelopeSender), recipients, cancellationToken).ConfigureAwait(false);
            var accepted = new SmtpReplyText(250, EnhancedCodeOf(response), response);
            await client.DisconnectAsync(quit: true, cancellationToken).ConfigureAwait(false);

            var results = request.Recipients
                .Select(r => client.Results.TryGetValue(r, out var refused) && refused.Outcome != RecipientOutcome.Sent
                    ? refused
                    : new RecipientResult(r, RecipientOutcome.Sent, accepted, $"accepted: {accepted}"))
                .ToArray();
            return new DeliveryResult(results, null, null, Text(transcript));
        }
        catch (NoRecipientsAcceptedException)
        {
            return Finish(RecipientOutcome.PermanentFailure, DeliveryStage.RcptTo, "The server accepted none of the recipients.");
        }
        catch (SslHandshakeException ex)
        {
            return Finish(RecipientOutcome.TransientFailure, DeliveryStage.Tls,
                $"The TLS handshake with {settings.Host}:{settings.Port} failed: {trust.Rejection ?? FirstSentence(ex.Message)}; nothing was sent.");
        }
        catch (NotSupportedException) when (stage == DeliveryStage.Connect && settings.Security == SmtpSecurity.StartTlsRequired)
        {
            return Finish(RecipientOutcome.TransientFailure, DeliveryStage.Tls,
                $"{settings.Host}:{settings.Port} does not offer STARTTLS and this connection requires it (starttls-required); nothing was sent.");
        }
        catch (MailKit.Security.AuthenticationException ex)
        {
            return Finish(RecipientOutcome.TransientFailure, DeliveryStage.Authenticate,
                $"The server refused authentication as '{settings.Authentication.UserName}': {ex.Message}");
        }
        catch (SmtpCommandException ex)
        {
            var reply = new SmtpReplyText((int)ex.StatusCode, EnhancedCodeOf(ex.Message), ex.Message);
            var outcome = (int)ex.StatusCode >= 500 ? RecipientOutcome.PermanentFailure : RecipientOutcome.TransientFailure;
            var failedAt = ex.ErrorCode switch
            {
                SmtpErrorCode.SenderNotAccepted => DeliveryStage.MailFrom,
                SmtpErrorCode.RecipientNotAccepted => DeliveryStage.RcptTo,
                SmtpErrorCode.MessageNotAccepted => DeliveryStage.Data,
                _ => stage,
            };
            return Finish(outcome, failedAt, $"The server replied {reply} ({failedAt}).", reply);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var limit = stage == DeliveryStage.Connect ? settings.ConnectTimeout : settings.CommandTimeout;
            return Finish(RecipientOutcome.TransientFailure, stage, $"{settings.Host}:{settings.Port} did not answer within {limit.TotalSeconds:0} s ({stage}).");
        }
        catch (Exception ex) when (ex is SmtpProtocolException or IOException or SocketException or TimeoutException or ServiceNotConnectedException)
        {
            var failedAt = trust.Rejection is not null ? DeliveryStage.Tls : stage;
            return Finish(RecipientOutcome.TransientFailure, failedAt,
                $"The connection to {settings.Host}:{settings.Port} failed ({failedAt}): {FirstSentence(ex.Message)}.");
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

    private static string? EnhancedCodeOf(string text)
    {
        var span = text.AsSpan().TrimStart();
        var end = span.IndexOf(' ');
        var candidate = (end < 0 ? span : span[..end]).ToString();
        var parts = candidate.Split('.');
        return parts.Length == 3 && parts[0] is "2" or "4" or "5" && parts.Skip(1).All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit))
            ? candidate
            : null;
    }

    private static string FirstSentence(string message) => message.Split('\n')[0].Trim().TrimEnd('.');

    private static string Text(MemoryStream transcript) => Encoding.UTF8.GetString(transcript.ToArray());

    private sealed class NoRecipientsAcceptedException : Exception;

    /// <summary>Records each refused recipient instead of abandoning the whole message, so one
    /// bad address does not stop the others.</summary>
    private sealed class RecipientRecordingSmtpClient(IProtocolLogger logger) : SmtpClient(logger)
    {
        public Dictionary<string, RecipientResult> Results { get; } = new(StringComparer.OrdinalIgnoreCase);

        protected override void OnRecipientNotAccepted(MimeMessage message, MailboxAddress mailbox, SmtpResponse response)
        {
            var code = (int)response.StatusCode;
            var reply = new SmtpReplyText(code, EnhancedCodeOf(response.Response), response.Response);
            var outcome = code >= 500 ? RecipientOutcome.PermanentFailure : RecipientOutcome.TransientFailure;
            Results[mailbox.Address] = new RecipientResult(mailbox.Address, outcome, reply, $"refused: {reply}");
        }

        protected override void OnNoRecipientsAccepted(MimeMessage message) => throw new NoRecipientsAcceptedException();
    }
}
