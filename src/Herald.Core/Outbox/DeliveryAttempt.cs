using Herald.Delivery;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MimeKit;

namespace Herald.Outbox;

/// <summary>
/// One attempt for one claimed message: its scope's connection, one SMTP transaction for its
/// pending recipients through the pool, and each recipient's new state. Delivery problems are
/// outcomes, never exceptions: a recipient is sent, deferred, bounced or (past the maximum age)
/// expired. An exception here is the message's own fault (MIME that cannot be parsed, a bug),
/// which the send loop counts against it.
/// </summary>
public sealed partial class DeliveryAttempt(
    DeliveryConnections connections,
    IDeliveryPool pool,
    NodeIdentity node,
    IOptions<DeliveryOptions> options,
    DeliveryMetrics metrics,
    ConnectionHealth health,
    TimeProvider time,
    ILogger<DeliveryAttempt> log)
{
    public async Task<AttemptOutcome> DeliverAsync(ClaimedMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var now = time.GetUtcNow();
        // Past its maximum age a message gets one last attempt; a temporary failure then expires it.
        var lastChance = now >= message.ExpiresAt;
        var (connection, problem) = await connections.ForScopeAsync(message.Scope, cancellationToken).ConfigureAwait(false);
        if (connection is null)
        {
            LogCannotSend(log, message.Id, problem!);
            return Outcome(message, now, lastChance, message.Recipients.Select(r => (r, RecipientOutcome.TransientFailure, (SmtpReplyText?)null, problem!)));
        }

        // As this node composed it, else parsed from the stored bytes wherever they are (memory,
        // or a spool file the outbox streamed a large message into): only its structure is held,
        // its content is read from the bytes as it is sent. The one place that knows how a
        // claimed message carries its MIME.
        using var parsed = message.Content is null ? await message.Mime.ParseAsync(cancellationToken).ConfigureAwait(false) : null;
        var result = await pool.SendAsync(
            new DeliveryRequest(connection, message.Content ?? parsed!.Message, message.EnvelopeSender, message.Recipients.Select(r => r.Address).ToArray()),
            cancellationToken).ConfigureAwait(false);

        var name = connection.Settings.Id;
        if (result.FailedAt is DeliveryStage.Connect or DeliveryStage.Authenticate or DeliveryStage.Tls)
        {
            // Counted by the connection's circuit breaker: after a few in a row its messages wait
            // for a probe instead of being tried one by one. Refused credentials or TLS are the
            // configuration's fault and shown at once; a refused connection may be the network's.
            health.ReportFailure(name, result.Failure!, configuration: result.FailedAt is not DeliveryStage.Connect);
            LogConnectionFailing(log, name, result.Failure!);
        }
        else if (result.FailedAt is null or DeliveryStage.MailFrom or DeliveryStage.RcptTo or DeliveryStage.Data)
        {
            health.ReportSuccess(name);
        }

        var done = time.GetUtcNow();
        var byAddress = result.Recipients.ToDictionary(r => r.Address, StringComparer.OrdinalIgnoreCase);
        foreach (var recipient in result.Recipients.Where(r => r.Outcome == RecipientOutcome.Sent))
        {
            metrics.Delivered(name, done - message.CreatedAt);
        }

        return Outcome(message, done, lastChance, message.Recipients.Select(r =>
        {
            var own = byAddress[r.Address];
            return (r, own.Outcome, own.Reply, own.Detail);
        }), name);
    }

    private AttemptOutcome Outcome(
        ClaimedMessage message,
        DateTimeOffset at,
        bool lastChance,
        IEnumerable<(PendingRecipient Recipient, RecipientOutcome Outcome, SmtpReplyText? Reply, string Detail)> results,
        string connection = "(none)")
    {
        var updates = results.Select(r =>
        {
            var state = r.Outcome switch
            {
                RecipientOutcome.Sent => RecipientState.Sent,
                RecipientOutcome.PermanentFailure => RecipientState.Bounced,
                _ => lastChance ? RecipientState.Expired : RecipientState.Deferred,
            };
            metrics.Recipient(RecipientStateNames.Values.NameOf(state), connection);
            return new RecipientUpdate(r.Recipient.Ordinal, state, r.Reply?.Code, r.Reply?.ToString() ?? r.Detail);
        }).ToArray();
        var next = RetrySchedule.NextAttempt(options.Value, message.Attempts + 1, at, message.ExpiresAt, Random.Shared);
        return new AttemptOutcome(message.Id, node.Name, at, updates, next);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message {MessageId} cannot be sent now: {Problem}")]
    private static partial void LogCannotSend(ILogger logger, string messageId, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SMTP connection {Connection} is failing: {Problem}")]
    private static partial void LogConnectionFailing(ILogger logger, string connection, string problem);
}
