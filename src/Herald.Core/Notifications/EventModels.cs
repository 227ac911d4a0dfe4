using System.Text.Json;
using Herald.Scopes;

namespace Herald.Notifications;

/// <summary>Something that happened in a producer's system, as posted to <c>/api/v1/events</c>.
/// <see cref="ResourcePath"/> names the thing inside the scope (<c>/Shared Documents/policy.docx</c>,
/// <c>/pipelines/build</c>): it starts with '/', has no trailing '/', and subscriptions filter on
/// its prefixes by whole segments. <see cref="Actor"/> is a user id or an email address.
/// <see cref="Id"/> is an <see cref="EventId"/>'s value, unique within the event's scope only:
/// the event is named by <see cref="Key"/>.</summary>
public sealed record NotificationEvent(
    string Id,
    string Type,
    ScopePath Scope,
    string ResourcePath,
    string? Actor,
    string Title,
    string? Link,
    JsonElement? Data,
    DateTimeOffset OccurredAt,
    DateTimeOffset ReceivedAt)
{
    /// <summary>The change kind a subscription filters on: the type's last segment
    /// (<c>item.changed</c> → <c>changed</c>, <c>pipeline.failed</c> → <c>failed</c>).</summary>
    public string ChangeKind => Type[(Type.LastIndexOf('.') + 1)..];

    /// <summary>What names this event among all others: its scope and its id.</summary>
    public EventKey Key => new(Scope, Id);

    /// <summary>How often its fan-out failed for a reason of its own so far (a template that
    /// throws, a bug), as claimed; see <see cref="Herald.Work.ItemFailure"/>.</summary>
    public int Failures { get; init; }

    /// <summary>The W3C traceparent of the span it was posted in (the API request), which its
    /// fan-out continues; null when nothing traced it.</summary>
    public string? TraceParent { get; init; } = Telemetry.HeraldTelemetry.CurrentTraceParent();
}

/// <summary>An event's name: ids are unique within a scope, not across scopes, so that a producer
/// of one scope can neither shadow nor detect another scope's events. Written <c>/hr doc-4711</c>.</summary>
public readonly record struct EventKey(ScopePath Scope, string Id)
{
    public override string ToString() => $"{Scope} {Id}";
}

/// <summary>An event whose fan-out is quarantined: it failed <see cref="Failures"/> times for a
/// reason of its own, the last being <see cref="LastError"/>, and waits for an administrator.</summary>
public sealed record FailedEvent(EventKey Key, string Type, string Title, DateTimeOffset ReceivedAt, int Failures, string? LastError);

/// <summary>The built-in event types. Any other type a producer sends is a custom type: it is
/// matched and delivered the same way, with the generic default template.</summary>
public static class EventTypes
{
    public const string ItemAdded = "item.added";
    public const string ItemChanged = "item.changed";
    public const string ItemDeleted = "item.deleted";
    public const string PipelineFailed = "pipeline.failed";
    public const string PipelineSucceeded = "pipeline.succeeded";
    public const string StageFailed = "stage.failed";
    public const string StageSucceeded = "stage.succeeded";
    public const string AccessRequested = "access.requested";
    public const string QuotaExceeded = "quota.exceeded";

    public static readonly IReadOnlyList<string> BuiltIn =
    [
        ItemAdded, ItemChanged, ItemDeleted, PipelineFailed, PipelineSucceeded, StageFailed, StageSucceeded, AccessRequested, QuotaExceeded,
    ];

    /// <summary>Administrative messages: they go to the scope's administrators (as well as to
    /// whatever subscriptions and rules match them).</summary>
    public static bool IsAdministrative(string type) => type is AccessRequested or QuotaExceeded;
}
