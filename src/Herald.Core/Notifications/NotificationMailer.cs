using System.Diagnostics;
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
/// <param name="Unsubscribe">What one click turns off; null for mail that belongs to no
/// subscription or rule (a sign-in link), which then carries no List-Unsubscribe.</param>
/// <param name="Requester">For an access request: the person asking. They appear in From when the
/// scope's impersonation policy allows it (the configured address is then the Sender and the
/// envelope sender); otherwise the message keeps the scope's From and Reply-To and its body names
/// the requester (<see cref="SenderIdentity.Decide"/>).</param>
public sealed record NotificationEmail(
    NotificationRecipient Recipient,
    RenderedNotification Content,
    Uri? Unsubscribe,
    string IdempotencyKey,
    NotificationRequester? Requester = null);

public sealed record NotificationRequester(EmailAddress Address, string? Name);

/// <summary>Stored, or why the scope cannot send (nothing was stored then).</summary>
public sealed record MailerOutcome(int Stored, int Duplicates, string? Problem)
{
    /// <summary>What the outbox did with each email, in the order they were given.</summary>
    public IReadOnlyList<EnqueueResult> Results { get; init; } = [];
}

/// <summary>
/// Composes notifications in the scope's outgoing settings and writes them to the outbox in
/// batches: every way a notification leaves (immediate fan-out, rules, administrative messages,
/// digests, a rule's test) ends here.
/// </summary>
/// <remarks>
/// A large fan-out is paced to this node's delivery: each batch is stored as the delivery worker
/// has room for it, leased to this node, so that its messages go straight to the senders (as a
/// message submitted through the API does) instead of waiting unleased to be claimed, read back
/// and parsed again. Pacing is given up for the rest of a send when the worker frees no room for
/// <see cref="Patience"/> (the SMTP server is failing) or once the send has been paced for
/// <see cref="PacedFor"/> (it is slow: the events after this one should not wait for it): the
/// notifications are then stored as fast as they are composed, and the claims deliver them.
/// </remarks>
public sealed class NotificationMailer(
    OutgoingSettingsCache settings,
    OutboxWriter writer,
    IDeliveryRoom handoff,
    IOptions<DeliveryOptions> deliveryOptions,
    IOptions<OutboxOptions> outboxOptions,
    TimeProvider time)
{
    /// <summary>Messages composed together: a 100,000-member fan-out is 200 batches, with a few in
    /// flight so that rendering the next batch overlaps composing and storing the last ones.</summary>
    public const int BatchSize = 500;

    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan PacedFor = TimeSpan.FromMinutes(2);

    private const int BatchesInFlight = 4;
    private const int MaxIdempotencyKeyLength = 200;

    /// <summary>Why the scope's notifications are dropped now instead of sent: its email is turned
    /// off (here or above it). Null when they are not. Asked before rendering, so that nothing is
    /// rendered for nobody; a scope turned off after that finds <see cref="SendAsync(ScopePath, MessageSource, IAsyncEnumerable{NotificationEmail}, CancellationToken)"/>
    /// storing nothing, with the reason as its problem.</summary>
    public async ValueTask<string?> TurnedOffAsync(ScopePath scope, CancellationToken cancellationToken) =>
        (await settings.CheckRouteAsync(scope, cancellationToken).ConfigureAwait(false)).TurnedOff;

    public Task<MailerOutcome> SendAsync(ScopePath scope, MessageSource source, IReadOnlyList<NotificationEmail> emails, CancellationToken cancellationToken) =>
        SendAsync(scope, source, emails.ToAsyncEnumerable(), cancellationToken);

    /// <summary>Takes the emails as they are rendered: batches are composed and stored on the
    /// thread pool while the next one is rendered, so a fan-out never holds every email at once.</summary>
    public async Task<MailerOutcome> SendAsync(ScopePath scope, MessageSource source, IAsyncEnumerable<NotificationEmail> emails, CancellationToken cancellationToken)
    {
        var (route, problem) = await settings.GetRouteAsync(scope, cancellationToken).ConfigureAwait(false);
        if (route is null)
        {
            return new MailerOutcome(0, 0, problem);
        }

        var effective = route.Settings;

        var pacing = new Pacing(handoff);
        var stored = 0;
        var duplicates = 0;
        var all = new List<EnqueueResult>();
        var inFlight = new Queue<Task<IReadOnlyList<EnqueueResult>>>();
        var batch = new List<NotificationEmail>(BatchSize);
        await foreach (var email in emails.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            batch.Add(email);
            if (batch.Count == BatchSize)
            {
                await StartAsync(batch).ConfigureAwait(false);
                batch = new List<NotificationEmail>(BatchSize);
            }
        }

        if (batch.Count > 0)
        {
            await StartAsync(batch).ConfigureAwait(false);
        }

        while (inFlight.Count > 0)
        {
            Count(await inFlight.Dequeue().ConfigureAwait(false));
        }

        return new MailerOutcome(stored, duplicates, null) { Results = all };

        async Task StartAsync(List<NotificationEmail> emails)
        {
            inFlight.Enqueue(Task.Run(() => StoreAsync(effective, scope, source, emails, pacing, cancellationToken), cancellationToken));
            if (inFlight.Count >= BatchesInFlight)
            {
                Count(await inFlight.Dequeue().ConfigureAwait(false));
            }
        }

        void Count(IReadOnlyList<EnqueueResult> results)
        {
            var repeated = results.Count(r => r.Duplicate);
            duplicates += repeated;
            stored += results.Count - repeated;
            all.AddRange(results);
        }
    }

    /// <summary>One batch: composed, then written in parts as the worker has room (each part is
    /// queued for the writer before room for the next is waited for: room is freed only by sending
    /// what was stored).</summary>
    private async Task<IReadOnlyList<EnqueueResult>> StoreAsync(
        EffectiveOutgoingSettings effective, ScopePath scope, MessageSource source, List<NotificationEmail> emails, Pacing pacing, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var messages = emails.Select(email => Compose(effective, scope, source, email, now)).ToArray();
        var writes = new List<Task<IReadOnlyList<EnqueueResult>>>();
        for (var offset = 0; offset < messages.Length;)
        {
            var rest = new ArraySegment<NewMessage>(messages, offset, messages.Length - offset);
            var leased = await pacing.LeaseWhenRoomAsync(rest, cancellationToken).ConfigureAwait(false);
            IReadOnlyList<NewMessage> part = leased.Count > 0 ? leased : rest;
            writes.Add(writer.EnqueueAsync(part, cancellationToken));
            offset += part.Count;
        }

        return (await Task.WhenAll(writes).ConfigureAwait(false)).SelectMany(r => r).ToArray();
    }

    /// <summary>Whether one send still waits for the worker's room: for <see cref="PacedFor"/> at
    /// most, and not after a wait for room ran out of <see cref="Patience"/>.</summary>
    private sealed class Pacing(IDeliveryRoom handoff)
    {
        // Real time, as the waits themselves.
        private readonly long _started = Stopwatch.GetTimestamp();
        private volatile bool _givenUp;

        public async Task<IReadOnlyList<NewMessage>> LeaseWhenRoomAsync(IReadOnlyList<NewMessage> messages, CancellationToken cancellationToken)
        {
            if (_givenUp)
            {
                return [];
            }

            var leased = await handoff.LeaseWhenRoomAsync(messages, Patience, cancellationToken).ConfigureAwait(false);
            if (leased.Count == 0 || Stopwatch.GetElapsedTime(_started) >= PacedFor)
            {
                _givenUp = true;
            }

            return leased;
        }
    }

    private NewMessage Compose(EffectiveOutgoingSettings effective, ScopePath scope, MessageSource source, NotificationEmail email, DateTimeOffset now)
    {
        // A template that writes more than a message may hold (a loop over huge data) makes this
        // notification fail, before anything is composed or stored: the fan-out counts it
        // against the event, as any other failure of its own.
        var rendered = (long)email.Content.Subject.Length + email.Content.Text.Length + (email.Content.Html?.Length ?? 0);
        if (rendered > outboxOptions.Value.MaxMessageBytes)
        {
            throw new InvalidDataException(
                $"The notification for {email.Recipient.Address} renders {rendered:N0} characters, more than a message may hold ({outboxOptions.Value.MaxMessageBytes:N0} bytes); check the template.");
        }

        return NewMessage.Compose(
            effective, ContentOf(effective, scope, email), scope, source, [email.Recipient.Address.Value], IdempotencyKey(email.IdempotencyKey), now, deliveryOptions.Value.MaximumAge);
    }

    /// <summary>The notification as a message of the scope: its bodies (naming the requester when
    /// the scope keeps its own From), unsubscribe, auto-submitted and list headers. Queued
    /// notifications and a rule's or subscription's test are composed from this alike.</summary>
    public static MessageContent ContentOf(EffectiveOutgoingSettings effective, ScopePath scope, NotificationEmail email)
    {
        ArgumentNullException.ThrowIfNull(effective);
        ArgumentNullException.ThrowIfNull(email);
        var requested = email.Requester is { } requester ? new RequestedIdentity(requester.Address, requester.Name, null) : RequestedIdentity.None;
        var (text, html) = (email.Content.Text, email.Content.Html);
        if (email.Requester is { } asking && SenderIdentity.Decide(effective, requested).From != asking.Address)
        {
            // The requester is not in From (impersonation 'never'): the body names them, with the
            // address to answer, whatever the scope's template says.
            (text, html) = NameRequester(asking, text, html);
        }

        return new MessageContent([email.Recipient.Address], email.Content.Subject, text, html)
        {
            Requested = requested,
            Headers = email.Unsubscribe is { } unsubscribe
                ?
                [
                    // RFC 8058 one-click unsubscribe; RFC 3834: no auto-replies to this message.
                    new("List-Unsubscribe", $"<{unsubscribe.AbsoluteUri}>"),
                    new("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                    new("Auto-Submitted", "auto-generated"),
                    new("List-Id", NotificationListId.For(scope, effective.FromAddress.Value?.Domain ?? "localhost")),
                ]
                : [new("Auto-Submitted", "auto-generated")],
        };
    }

    /// <summary>"Requested by Dana Scully &lt;dana@example.com&gt;" after the text, and before the end
    /// of the HTML body (HTML-encoded).</summary>
    private static (string Text, string? Html) NameRequester(NotificationRequester requester, string text, string? html)
    {
        var who = requester.Name is { Length: > 0 } name ? $"{name} <{requester.Address.Value}>" : requester.Address.Value;
        var line = $"Requested by {who}";
        if (html is not null)
        {
            var paragraph = $"<p>{System.Net.WebUtility.HtmlEncode(line)}</p>";
            var end = html.LastIndexOf("</body>", StringComparison.OrdinalIgnoreCase);
            html = end < 0 ? html + paragraph : html.Insert(end, paragraph);
        }

        return (text.TrimEnd() + "\n\n" + line + "\n", html);
    }

    /// <summary>The key as given when it fits the outbox's column, else its SHA-256 (event ids and
    /// addresses together can be longer than 200 characters).</summary>
    private static string IdempotencyKey(string key) =>
        key.Length <= MaxIdempotencyKeyLength ? key : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
