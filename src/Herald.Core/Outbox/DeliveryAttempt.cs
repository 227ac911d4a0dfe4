using System.Diagnostics;
using Herald.Delivery;
using Herald.Telemetry;
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
    Bounces.BounceDomains bounceDomains,
    Bounces.BounceTokens bounceTokens,
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
        // A span per attempt, in the trace the message was accepted in (the API request, the relay
        // session, an event's fan-out), though this may be another node, much later; a message
        // stored without one starts its own, never a child of whatever span this flow inherited
        // (a loop first started inside a request carries that request's span along).
        if (Activity.Current is not null)
        {
            Activity.Current = null;
        }

        using var span = HeraldTelemetry.Source.StartActivity("deliver", ActivityKind.Client, HeraldTelemetry.ParentOf(message.TraceParent));
        var outcome = await AttemptAsync(message, span, cancellationToken).ConfigureAwait(false);
        if (span is { IsAllDataRequested: true })
        {
            foreach (var group in outcome.Recipients.GroupBy(r => r.State))
            {
                span.SetTag($"herald.recipients.{RecipientStateNames.Values.NameOf(group.Key)}", group.Count());
            }

            if (outcome.Recipients.Any(r => r.State != RecipientState.Sent))
            {
                span.SetStatus(ActivityStatusCode.Error, outcome.Recipients.First(r => r.State != RecipientState.Sent).Reply);
            }
        }

        return outcome;
    }

    private async Task<AttemptOutcome> AttemptAsync(ClaimedMessage message, Activity? span, CancellationToken cancellationToken)
    {
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("herald.message.id", message.Id);
            span.SetTag("herald.scope", message.Scope.Value);
            span.SetTag("herald.recipients", message.Recipients.Count);
            span.SetTag("herald.attempt", message.Attempts + 1);
        }

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
            new DeliveryRequest(connection, message.Content ?? parsed!.Message, message.EnvelopeSender, message.Recipients.Select(r => r.Address).ToArray())
            {
                RecipientSenders = await BounceSendersAsync(message, cancellationToken).ConfigureAwait(false),
            },
            cancellationToken).ConfigureAwait(false);

        var name = connection.Settings.Id;
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("herald.connection", name);
            // The reply that decided the transaction: DATA's for recipients it accepted, else the
            // recipient's own or the one that stopped the transaction.
            if (result.Recipients.Select(r => r.Reply).FirstOrDefault(r => r is not null) is { } reply)
            {
                span.SetTag("herald.smtp.reply_code", reply.Code);
                span.SetTag("herald.smtp.reply", reply.ToString());
            }

            if (result.FailedAt is { } stage)
            {
                span.SetTag("herald.smtp.failed_at", stage.ToString());
            }
        }

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

    /// <summary>
    /// With a bounce domain for the message's scope, each recipient's own envelope sender
    /// (<c>bounces+TOKEN@domain</c>), so that a DSN arriving days later names it. The cost: one SMTP
    /// transaction per recipient (MAIL FROM, RCPT TO, DATA again, on the same connection) instead
    /// of one per message. The null sender stays null: that message must never be answered.
    /// </summary>
    private async Task<IReadOnlyList<string>?> BounceSendersAsync(ClaimedMessage message, CancellationToken cancellationToken)
    {
        if (message.EnvelopeSender.Length == 0
            || await bounceDomains.DomainForAsync(message.Scope, cancellationToken).ConfigureAwait(false) is not { } domain)
        {
            return null;
        }

        var senders = new string[message.Recipients.Count];
        for (var i = 0; i < senders.Length; i++)
        {
            // An id or ordinal no token can carry keeps the configured sender.
            senders[i] = await bounceTokens.SenderAsync(message.Id, message.Recipients[i].Ordinal, domain, cancellationToken).ConfigureAwait(false)
                ?? message.EnvelopeSender;
        }

        return senders;
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
