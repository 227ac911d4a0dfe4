using System.Security.Cryptography;
using System.Text;
using Herald.Delivery;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.Options;

namespace Herald.Notifications;

/// <summary>One notification for one recipient, rendered and ready to be composed.</summary>
/// <param name="IdempotencyKey">Names this notification among all the scope's messages
/// (<c>event:{id}:{recipient}</c>, <c>digest:{subscription}:{recipient}:{window end}</c>): the
/// outbox stores a key once, so a fan-out or a digest that is run again after a crash, or by two
/// nodes, sends nothing twice.</param>
/// <param name="Requester">For an access request: the person asking. They appear in From when the
/// scope's impersonation policy allows it (the configured address is then the Sender and the
/// envelope sender), otherwise in Reply-To.</param>
public sealed record NotificationEmail(
    NotificationRecipient Recipient,
    RenderedNotification Content,
    Uri Unsubscribe,
    string IdempotencyKey,
    NotificationRequester? Requester = null);

public sealed record NotificationRequester(EmailAddress Address, string? Name);

/// <summary>Stored, or why the scope cannot send (nothing was stored then).</summary>
public sealed record MailerOutcome(int Stored, int Duplicates, string? Problem);

/// <summary>
/// Composes notifications in the scope's outgoing settings and writes them to the outbox in
/// batches: every way a notification leaves (immediate fan-out, rules, administrative messages,
/// digests, a rule's test) ends here.
/// </summary>
public sealed class NotificationMailer(
    OutgoingSettingsCache settings,
    OutboxWriter writer,
    IOptions<DeliveryOptions> deliveryOptions,
    TimeProvider time)
{
    /// <summary>Messages per outbox write: a 100,000-member fan-out is 200 commits, with a few in
    /// flight so that composing the next batch overlaps the fsync of the last.</summary>
    public const int BatchSize = 500;

    private const int BatchesInFlight = 4;
    private const int MaxIdempotencyKeyLength = 200;

    public async Task<MailerOutcome> SendAsync(ScopePath scope, MessageSource source, IReadOnlyList<NotificationEmail> emails, CancellationToken cancellationToken)
    {
        var (effective, problem) = await settings.GetSendingAsync(scope, cancellationToken).ConfigureAwait(false);
        if (effective is null)
        {
            return new MailerOutcome(0, 0, problem);
        }

        var stored = 0;
        var duplicates = 0;
        var inFlight = new Queue<Task<IReadOnlyList<EnqueueResult>>>();
        foreach (var chunk in emails.Chunk(BatchSize))
        {
            var now = time.GetUtcNow();
            var messages = chunk.Select(email => Compose(effective, scope, source, email, now)).ToArray();
            inFlight.Enqueue(writer.EnqueueAsync(messages, cancellationToken));
            if (inFlight.Count >= BatchesInFlight)
            {
                Count(await inFlight.Dequeue().ConfigureAwait(false));
            }
        }

        while (inFlight.Count > 0)
        {
            Count(await inFlight.Dequeue().ConfigureAwait(false));
        }

        return new MailerOutcome(stored, duplicates, null);

        void Count(IReadOnlyList<EnqueueResult> results)
        {
            var repeated = results.Count(r => r.Duplicate);
            duplicates += repeated;
            stored += results.Count - repeated;
        }
    }

    private NewMessage Compose(EffectiveOutgoingSettings effective, ScopePath scope, MessageSource source, NotificationEmail email, DateTimeOffset now)
    {
        var impersonate = email.Requester is not null && effective.Impersonation.Value == ImpersonationPolicy.AllowUserFrom;
        var content = new MessageContent([email.Recipient.Address], email.Content.Subject, email.Content.Text, email.Content.Html)
        {
            From = impersonate ? email.Requester!.Address : null,
            FromName = impersonate ? email.Requester!.Name : null,
            ReplyTo = email.Requester is { } requester && !impersonate ? requester.Address : null,
            Headers =
            [
                // RFC 8058 one-click unsubscribe; RFC 3834: no auto-replies to this message.
                new("List-Unsubscribe", $"<{email.Unsubscribe.AbsoluteUri}>"),
                new("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                new("Auto-Submitted", "auto-generated"),
            ],
        };
        var id = Guid.CreateVersion7(now).ToString("N");
        var mime = MessageComposer.Compose(effective, content, now, id);
        return new NewMessage(
            id,
            scope,
            source,
            effective.FromAddress.Value!.Value,
            effective.ConnectionName.Value,
            mime.MessageId!,
            MessageComposer.ToBytes(mime),
            [email.Recipient.Address.Value],
            IdempotencyKey(email.IdempotencyKey),
            now,
            now + deliveryOptions.Value.MaximumAge)
        {
            Content = mime,
        };
    }

    /// <summary>The key as given when it fits the outbox's column, else its SHA-256 (event ids and
    /// addresses together can be longer than 200 characters).</summary>
    private static string IdempotencyKey(string key) =>
        key.Length <= MaxIdempotencyKeyLength ? key : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
