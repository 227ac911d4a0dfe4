using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Herald.Scopes;
using Herald.Telemetry;

namespace Herald.Notifications;

/// <summary>What a notification becomes when it is not sent, by kind.</summary>
public enum DroppedKind
{
    /// <summary>An immediate notification of an event (subscription, rule or administrative).</summary>
    Immediate,

    /// <summary>A digest, or an event's entry in the digests to come.</summary>
    Digest,
}

/// <summary>
/// Notification metrics on the <see cref="HeraldTelemetry.Name"/> meter, exposed as
/// <c>herald_notifications_dropped_total{scope,kind,reason}</c>. Dropped notifications are
/// counted per recipient: an event whose scope's email is turned off leaves no message behind, so
/// this counter (and the log line beside it) is where the drop is seen. The running totals are
/// this object's own, for the tests of one node among several in a process.
/// </summary>
public sealed class NotificationMetrics
{
    /// <summary>Why a notification is dropped; the only reason so far.</summary>
    public const string EmailTurnedOff = "email turned off";

    private readonly Counter<long> _dropped;
    private readonly ConcurrentDictionary<(ScopePath Scope, DroppedKind Kind), long> _totals = new();

    public NotificationMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _dropped = meters.Create(HeraldTelemetry.Name).CreateCounter<long>(
            "herald.notifications.dropped", description: "Recipients of notifications this node dropped because their scope's email was turned off, by scope and kind (immediate, digest).");
    }

    public void Dropped(ScopePath scope, DroppedKind kind, int recipients)
    {
        if (recipients <= 0)
        {
            return;
        }

        _dropped.Add(recipients, new("scope", scope.Value), new("kind", NameOf(kind)), new("reason", EmailTurnedOff));
        _totals.AddOrUpdate((scope, kind), recipients, (_, n) => n + recipients);
    }

    public IEnumerable<KeyValuePair<(ScopePath Scope, DroppedKind Kind), long>> DroppedTotals => _totals;

    public static string NameOf(DroppedKind kind) => kind == DroppedKind.Immediate ? "immediate" : "digest";
}
