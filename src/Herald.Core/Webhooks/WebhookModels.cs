using Herald.Scopes;

namespace Herald.Webhooks;

/// <summary>What a webhook can be told about, by the <c>type</c> its payload carries.</summary>
public static class WebhookEventTypes
{
    public const string RecipientPrefix = "message.recipient.";

    /// <summary>An event's fan-out finished: how many recipients it reached and how.</summary>
    public const string EventFinished = "event.finished";

    /// <summary>Every type, in the order lists show them.</summary>
    public static readonly IReadOnlyList<string> All =
    [
        RecipientPrefix + "sent",
        RecipientPrefix + "deferred",
        RecipientPrefix + "bounced",
        RecipientPrefix + "expired",
        RecipientPrefix + "suppressed",
        RecipientPrefix + "complained",
        RecipientPrefix + "failed",
        EventFinished,
    ];

    /// <summary>The type a recipient state change is sent as; null for a state no endpoint hears
    /// of (queued, cancelled).</summary>
    public static string? OfRecipientState(string state)
    {
        var type = RecipientPrefix + state;
        return All.Contains(type, StringComparer.Ordinal) ? type : null;
    }
}

/// <summary>
/// Where a scope's producers are told what happened to their mail: an HTTPS URL (or HTTP to
/// loopback) that receives every change of the types it asks for (all when
/// <see cref="EventTypes"/> is empty) in its scope and the scopes below it, signed as Standard
/// Webhooks says with a secret only the endpoint's creator saw.
/// </summary>
/// <param name="FailingSince">When the attempt that failed first without a success since was
/// made; null while deliveries succeed.</param>
/// <param name="DisabledReason">Why Herald turned it off (failing for days); null while enabled
/// or turned off by an administrator.</param>
public sealed record WebhookEndpoint(
    string Id,
    ScopePath Scope,
    Uri Url,
    string Description,
    IReadOnlyList<string> EventTypes,
    bool Enabled,
    DateTimeOffset CreatedAt,
    string CreatedBy,
    DateTimeOffset? FailingSince,
    string? DisabledReason)
{
    /// <summary>Whether a change in <paramref name="scope"/> of <paramref name="type"/> is sent here.</summary>
    public bool Wants(ScopePath scope, string type) => Enabled && Hears(Scope, EventTypes, scope, type);

    /// <summary>The rule, for the store that matches changes to endpoints without loading them whole:
    /// the endpoint's scope or one below it, and one of its types (any when it names none).</summary>
    public static bool Hears(ScopePath endpointScope, IReadOnlyCollection<string> eventTypes, ScopePath scope, string type) =>
        scope.IsSameOrDescendantOf(endpointScope) && (eventTypes.Count == 0 || eventTypes.Contains(type, StringComparer.Ordinal));
}

/// <summary>A new endpoint and its signing secret, which is shown this once and never again.</summary>
public sealed record CreatedWebhook(WebhookEndpoint Endpoint, string Secret);

/// <summary>Where a delivery is: waiting (or being tried), delivered, or quarantined after
/// failing for a reason of Herald's own (an administrator retries it).</summary>
public enum WebhookDeliveryState
{
    Pending,
    Delivered,
    Failed,
}

/// <summary>One payload to one endpoint; <see cref="Id"/> is its <c>webhook-id</c>, the same on
/// every attempt so that a receiver can drop a repeat.</summary>
public sealed record WebhookDelivery(
    long Sequence,
    string Id,
    string EndpointId,
    string Type,
    string Subject,
    WebhookDeliveryState State,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset NextAttemptAt,
    int? LastStatus,
    string? LastReply,
    DateTimeOffset? DeliveredAt);

/// <summary>One try of a delivery, as the endpoint's log shows it.</summary>
/// <param name="Status">The receiver's HTTP status; null when none came (refused, timed out).</param>
/// <param name="Reply">The start of the receiver's reply, or what went wrong.</param>
public sealed record WebhookAttempt(long DeliverySequence, string DeliveryId, string Type, DateTimeOffset At, int? Status, bool Succeeded, string Reply);

/// <summary>An endpoint's log: its last attempts, newest first, and the deliveries still waiting.</summary>
public sealed record WebhookLog(WebhookEndpoint Endpoint, IReadOnlyList<WebhookAttempt> Attempts, IReadOnlyList<WebhookDelivery> Waiting);

/// <summary>
/// A change that endpoints may be told about, as the transaction that makes the change records
/// it: <see cref="OrderKey"/> groups changes that must arrive in the order they happened (a
/// message's), <see cref="Payload"/> is the JSON body every endpoint receives.
/// </summary>
public sealed record WebhookEvent(string OrderKey, ScopePath Scope, string Type, string Subject, DateTimeOffset At, string Payload);

/// <summary>A delivery leased to this node, with what its attempt needs.</summary>
public sealed record ClaimedWebhookDelivery(long Sequence, string Id, string EndpointId, Uri Url, string Payload, int Attempts, int Failures, DateTimeOffset? FailingSince);

/// <summary>What one attempt came to, as the store records it.</summary>
/// <param name="Failure">Set when the attempt failed for a reason of Herald's own (an exception):
/// counted against the delivery, quarantined after the last try.</param>
public sealed record WebhookOutcome(
    long Sequence,
    string EndpointId,
    string Node,
    DateTimeOffset At,
    int? Status,
    bool Succeeded,
    string Reply,
    DateTimeOffset NextAttemptAt,
    Work.ItemFailure? Failure = null)
{
    /// <summary>True when the attempt was never made (the database or the disk failed): nothing is counted.</summary>
    public bool Postponed { get; init; }
}
