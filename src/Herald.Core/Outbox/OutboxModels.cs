using Herald.Delivery;
using Herald.Scopes;
using Herald.Settings;
using Herald.Telemetry;
using Herald.Work;
using MimeKit;

namespace Herald.Outbox;

/// <summary>A recipient's delivery state (DESIGN.md, "Messages and delivery").</summary>
public enum RecipientState
{
    Queued,
    Sent,
    Deferred,
    Bounced,
    Expired,
    Cancelled,

    /// <summary>Quarantined: the message failed for a reason of its own (it cannot be parsed, a
    /// bug) as many times as <see cref="WorkOptions.MaxAttempts"/> allows; it waits for an
    /// administrator to retry it.</summary>
    Failed,

    /// <summary>On a suppression list of the message's scope or one above it when the message was
    /// stored: never sent, never claimed; its reply names the entry.</summary>
    Suppressed,

    /// <summary>Sent, and then reported as spam by its recipient (an ARF feedback report read from
    /// a bounce mailbox); the address is put on the message scope's suppression list.</summary>
    Complained,
}

public static class RecipientStateNames
{
    public static readonly NamedValues<RecipientState> Values = new(
        (RecipientState.Queued, "queued"),
        (RecipientState.Sent, "sent"),
        (RecipientState.Deferred, "deferred"),
        (RecipientState.Bounced, "bounced"),
        (RecipientState.Expired, "expired"),
        (RecipientState.Cancelled, "cancelled"),
        (RecipientState.Failed, "failed"),
        (RecipientState.Suppressed, "suppressed"),
        (RecipientState.Complained, "complained"));

    /// <summary>Still to be delivered: a worker will try again.</summary>
    public static bool IsPending(this RecipientState state) => state is RecipientState.Queued or RecipientState.Deferred;
}

/// <summary>Where a message came from.</summary>
public enum MessageSource
{
    Api,
    Relay,
    Notification,
    Digest,
    Test,
}

public static class MessageSourceNames
{
    public static readonly NamedValues<MessageSource> Values = new(
        (MessageSource.Api, "api"),
        (MessageSource.Relay, "relay"),
        (MessageSource.Notification, "notification"),
        (MessageSource.Digest, "digest"),
        (MessageSource.Test, "test"));
}

/// <summary>A message ready to be stored: its MIME bytes are final (CRLF line ends, a stable
/// Message-ID) so that every attempt, on any node, sends the same message. They are in memory, or
/// in a spool file (a large relay transfer) that the outbox streams into the database.</summary>
/// <param name="EnvelopeSender">MAIL FROM; empty for the null sender &lt;&gt; (a bounce or another
/// notification that must never be answered, RFC 5321 §4.5.5), which is sent as &lt;&gt;.</param>
public sealed record NewMessage(
    string Id,
    ScopePath Scope,
    MessageSource Source,
    string EnvelopeSender,
    string? ConnectionName,
    string MessageIdHeader,
    MimeData Mime,
    IReadOnlyList<string> Recipients,
    string? IdempotencyKey,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt)
{
    /// <summary>The message as composed, kept in memory so that this node's delivery worker
    /// need not parse <see cref="Mime"/> again (see <see cref="IDeliveryRoom"/>).</summary>
    public MimeMessage? Content { get; init; }

    /// <summary>Stored already leased to a node, which then delivers it without claiming it.</summary>
    public MessageLease? Lease { get; init; }

    /// <summary>The trace the message is accepted in (W3C traceparent of the span current where it
    /// is made: the API request, the relay's acceptance, an event's fan-out), stored with it so
    /// that its delivery continues that trace on whichever node and however much later.</summary>
    public string? TraceParent { get; init; } = HeraldTelemetry.CurrentTraceParent();

    /// <summary>The subject as a person reads it (decoded), stored beside the MIME so that lists
    /// of messages never read MIME bodies; at most <see cref="MaxSubjectLength"/> characters.</summary>
    public string? Subject
    {
        get;
        init => field = value is { Length: > MaxSubjectLength } ? value[..MaxSubjectLength] : value;
    }

    /// <summary>Recipients on a suppression list (marked by <see cref="Suppression.SuppressionCheck"/>
    /// as the outbox writer stores the message): stored as <see cref="RecipientState.Suppressed"/>
    /// with the entry in their reply, and never delivered.</summary>
    public IReadOnlyList<SuppressedRecipient> Suppressed { get; init; } = [];

    /// <summary>Every recipient is suppressed: the message is finished as it is stored.</summary>
    public bool NothingToDeliver => Suppressed.Count > 0 && Suppressed.Count >= Recipients.Count;

    /// <summary>The longest subject kept for lists (a header line's limit, RFC 5322 §2.1.1).</summary>
    public const int MaxSubjectLength = 998;

    /// <summary>The content composed in the scope's effective settings (its From, envelope sender,
    /// connection and charset; a Message-ID made from the new id), as it is to be stored, and kept
    /// parsed in <see cref="Content"/>.</summary>
    public static NewMessage Compose(
        EffectiveOutgoingSettings effective,
        MessageContent content,
        ScopePath scope,
        MessageSource source,
        IReadOnlyList<string> recipients,
        string? idempotencyKey,
        DateTimeOffset now,
        TimeSpan maximumAge)
    {
        ArgumentNullException.ThrowIfNull(effective);
        ArgumentNullException.ThrowIfNull(content);
        var id = Guid.CreateVersion7(now).ToString("N");
        var mime = MessageComposer.Compose(effective, content, now, id);
        return new NewMessage(
            id,
            scope,
            source,
            SenderIdentity.Decide(effective, content.Requested).EnvelopeSender.Value,
            effective.ConnectionId.Value,
            mime.MessageId!,
            MessageComposer.ToBytes(mime),
            recipients,
            idempotencyKey,
            now,
            now + maximumAge)
        {
            Content = mime,
            Subject = content.Subject,
        };
    }
}

/// <summary>A recipient left out of delivery, and the reply stored for it.</summary>
public sealed record SuppressedRecipient(int Ordinal, string Reply);

/// <summary>Who holds a message's lease, and until when.</summary>
public sealed record MessageLease(string Node, DateTimeOffset Until);

/// <summary>What the outbox did with a submitted message: stored it, or found the one stored
/// earlier with the same idempotency key in that scope.</summary>
public sealed record EnqueueResult(string Id, bool Duplicate)
{
    /// <summary>The recipients the writer found on a suppression list, with the reply stored for
    /// each (naming the entry), as this write checked them.</summary>
    public IReadOnlyList<SuppressedRecipient> Suppressed { get; init; } = [];
}

/// <summary>A message a worker holds the lease on, with the recipients still to deliver. A large
/// message's <see cref="Mime"/> stays in the outbox until it is sent.</summary>
public sealed record ClaimedMessage(
    string Id,
    ScopePath Scope,
    string EnvelopeSender,
    string? ConnectionName,
    MimeData Mime,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    IReadOnlyList<PendingRecipient> Recipients)
{
    /// <summary>The parsed message when this node composed it and never let it go; otherwise
    /// null, and the worker parses <see cref="Mime"/>.</summary>
    public MimeMessage? Content { get; init; }

    /// <summary>How often it failed for a reason of its own so far (see <see cref="ItemFailure"/>).</summary>
    public int Failures { get; init; }

    /// <summary>Until when this node holds it, when it was leased at insert rather than claimed.</summary>
    public DateTimeOffset? LeaseUntil { get; init; }

    /// <summary>The trace it was accepted in (see <see cref="NewMessage.TraceParent"/>).</summary>
    public string? TraceParent { get; init; }
}

public sealed record PendingRecipient(int Ordinal, string Address, int Attempts);

/// <summary>The result of one attempt for one recipient.</summary>
public sealed record RecipientUpdate(int Ordinal, RecipientState State, int? Code, string? Reply);

/// <summary>The result of one attempt for a claimed message: every pending recipient's new state
/// and, if any is still pending, when to try again. With no recipients the attempt did not reach
/// the upstream: <see cref="Failure"/> says why when the message itself is at fault (counted, then
/// quarantined); without it the message is only postponed to <see cref="NextAttemptAt"/> (the
/// database or the disk failed), and nothing is counted.</summary>
public sealed record AttemptOutcome(
    string MessageId,
    string Node,
    DateTimeOffset At,
    IReadOnlyList<RecipientUpdate> Recipients,
    DateTimeOffset NextAttemptAt)
{
    public ItemFailure? Failure { get; init; }

    public static AttemptOutcome Failed(string messageId, string node, DateTimeOffset at, ItemFailure failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        return new AttemptOutcome(messageId, node, at, [], failure.RetryAt ?? at) { Failure = failure };
    }

    public static AttemptOutcome Postponed(string messageId, string node, DateTimeOffset at, DateTimeOffset retryAt) =>
        new(messageId, node, at, [], retryAt);
}

public sealed record MessageSummary(
    string Id,
    ScopePath Scope,
    MessageSource Source,
    string EnvelopeSender,
    string? Subject,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    IReadOnlyList<RecipientStatus> Recipients)
{
    /// <summary>How often it failed for a reason of its own (not the upstream's) since it was
    /// stored or last retried by an administrator.</summary>
    public int Failures { get; init; }

    /// <summary>Why it last failed for a reason of its own; the reason it is quarantined when
    /// its recipients are <see cref="RecipientState.Failed"/>.</summary>
    public string? LastError { get; init; }
}

public sealed record RecipientStatus(int Ordinal, string Address, RecipientState State, int Attempts, int? LastCode, string? LastReply, DateTimeOffset UpdatedAt);

public sealed record AttemptRecord(int Ordinal, int Attempt, DateTimeOffset At, string Node, RecipientState Outcome, int? Code, string? Reply);

public sealed record MessageDetails(MessageSummary Message, string MessageIdHeader, string? ConnectionName, int SizeBytes, IReadOnlyList<AttemptRecord> Attempts);

/// <summary>Which messages an administrator lists; scopes are always limited to what the caller may see.</summary>
public sealed record MessageFilter(ScopePath Scope, RecipientState? State = null, string? Recipient = null, DateTimeOffset? Since = null, DateTimeOffset? Until = null, int Limit = 100);
