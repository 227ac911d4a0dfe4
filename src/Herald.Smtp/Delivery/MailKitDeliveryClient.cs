using System.Text;
using MailKit;

namespace Herald.Delivery;

/// <summary>
/// One-shot delivery through MailKit for test emails: a fresh connection, one transaction, and
/// the SMTP transcript (the protocol logger redacts AUTH secrets, MailKit's secret detector).
/// </summary>
public sealed class MailKitDeliveryClient(AccessTokens? tokens = null) : IDeliveryClient
{
    public async Task<DeliveryResult> SendAsync(DeliveryRequest request, CancellationToken cancellationToken)
    {
        using var transcript = new MemoryStream();
        using var logger = new ProtocolLogger(transcript, leaveOpen: true) { RedactSecrets = true };
        var (session, failure) = await SmtpSession.OpenAsync(request.Connection, tokens, logger, EhloName.For(request.Connection.Settings, request.EnvelopeSender), cancellationToken).ConfigureAwait(false);
        if (session is null)
        {
            return new DeliveryResult(
                request.Recipients.Select(r => new RecipientResult(r, failure!.Outcome, failure.Reply, failure.Message)).ToArray(),
                failure!.Stage, failure.Message, Text(transcript));
        }

        using (session)
        {
            var (results, sendFailure) = await session.SendAsync(request.Message, request.EnvelopeSender, request.Recipients, cancellationToken).ConfigureAwait(false);
            await session.CloseAsync(cancellationToken).ConfigureAwait(false);
            var stopped = sendFailure ?? (results.All(r => r.Outcome != RecipientOutcome.Sent)
                ? new SessionFailure(RecipientOutcome.PermanentFailure, DeliveryStage.RcptTo, "The server accepted none of the recipients.")
                : null);
            return new DeliveryResult(results, stopped?.Stage, stopped?.Message, Text(transcript));
        }
    }

    private static string Text(MemoryStream transcript) => Encoding.UTF8.GetString(transcript.ToArray());
}
