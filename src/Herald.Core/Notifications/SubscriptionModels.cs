using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications;

/// <summary>How often a subscription's matches are sent: at once, or gathered into a daily or
/// weekly summary (a digest) in the recipient's time zone.</summary>
public enum NotificationFrequency
{
    Immediate,
    Daily,
    Weekly,
}

public static class NotificationFrequencyNames
{
    public static readonly NamedValues<NotificationFrequency> Values = new(
        (NotificationFrequency.Immediate, "immediate"), (NotificationFrequency.Daily, "daily"), (NotificationFrequency.Weekly, "weekly"));
}

/// <summary>When a subscription sends. <see cref="At"/> is the recipient's local time of day of a
/// daily or weekly digest; <see cref="Day"/> the weekday of a weekly one.</summary>
public sealed record NotificationSchedule(NotificationFrequency Frequency, TimeOnly At, DayOfWeek Day)
{
    public static readonly NotificationSchedule Immediate = new(NotificationFrequency.Immediate, default, DayOfWeek.Monday);
}

public enum ConditionOperator
{
    Equals,
    NotEquals,
    In,
    Contains,
}

public static class ConditionOperatorNames
{
    public static readonly NamedValues<ConditionOperator> Values = new(
        (ConditionOperator.Equals, "equals"), (ConditionOperator.NotEquals, "not-equals"), (ConditionOperator.In, "in"), (ConditionOperator.Contains, "contains"));
}

/// <summary>A condition on the event's data: <see cref="Field"/> is a dotted path into the data
/// object (<c>status</c>, <c>pipeline.branch</c>); values compare as text.</summary>
public sealed record EventCondition(string Field, ConditionOperator Operator, IReadOnlyList<string> Values);

/// <summary>Which events a subscription or rule is about. An empty list does not filter.</summary>
public sealed record EventFilter(
    IReadOnlyList<string> EventTypes,
    IReadOnlyList<string> PathPrefixes,
    IReadOnlyList<string> ChangeKinds,
    IReadOnlyList<EventCondition> Conditions)
{
    public static readonly EventFilter Everything = new([], [], [], []);
}

/// <summary>An alert: a user's own (owner <c>user:…</c>) or a group's (owner <c>group:…</c>, for a
/// team, project or collection), on events in <see cref="Scope"/> and the scopes below it.</summary>
public sealed record Subscription(
    string Id,
    ScopePath Scope,
    Principal Owner,
    string Name,
    EventFilter Filter,
    NotificationSchedule Schedule,
    bool ExcludeActor,
    bool Enabled,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>An administrator's routing of events in a scope to addresses, users and groups
/// (Harness's notification rules). Always immediate.</summary>
public sealed record NotificationRule(
    string Id,
    ScopePath Scope,
    string Name,
    EventFilter Filter,
    IReadOnlyList<EmailAddress> Addresses,
    IReadOnlyList<Principal> Recipients,
    bool ExcludeActor,
    bool Enabled,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>What sent a notification, and so what its unsubscribe link turns off.</summary>
public enum NotificationSourceKind
{
    /// <summary>A subscription: the owner's own is disabled; a group member opts out of the group's.</summary>
    Subscription,

    /// <summary>A rule: that recipient is opted out of the rule.</summary>
    Rule,

    /// <summary>Administrative messages of a scope (<see cref="NotificationOrigin.SourceId"/> is the scope path).</summary>
    Administrative,
}

/// <summary>Who a notification went to and why: <see cref="Recipient"/> is a user id, or for an
/// address that is no user (a rule's address, a group alias) the address itself.</summary>
public sealed record NotificationOrigin(NotificationSourceKind Kind, string SourceId, string Recipient);

/// <summary>The subscription store as the rest of the notification engine needs it.</summary>
public interface ISubscriptionStore
{
    Task<Subscription?> FindAsync(string id, CancellationToken cancellationToken);

    /// <summary>Enabled daily and weekly subscriptions, for the digest scheduler.</summary>
    Task<IReadOnlyList<Subscription>> ListDigestSubscriptionsAsync(CancellationToken cancellationToken);

    Task<NotificationRule?> FindRuleAsync(string id, CancellationToken cancellationToken);

    /// <summary>Turns a subscription off; false when there is none.</summary>
    Task<bool> DisableAsync(string subscriptionId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Records that a recipient wants no more from a source; false when already recorded.</summary>
    Task<bool> AddOptOutAsync(NotificationOrigin optOut, DateTimeOffset now, CancellationToken cancellationToken);

    Task<bool> RemoveOptOutAsync(NotificationOrigin optOut, CancellationToken cancellationToken);

    /// <summary>The recipients who opted out of one source.</summary>
    Task<IReadOnlySet<string>> OptOutsAsync(NotificationSourceKind kind, string sourceId, CancellationToken cancellationToken);
}
