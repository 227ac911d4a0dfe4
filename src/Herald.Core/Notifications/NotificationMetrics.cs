using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Herald.Scopes;

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
/// Notification metrics, named in one place: published as .NET metrics (meter
/// <c>Herald.Notifications</c>) and kept as running totals for the Prometheus endpoint. Dropped
/// notifications are counted per recipient: an event whose scope's email is turned off leaves no
/// message behind, so this counter (and the log line beside it) is where the drop is seen.
/// </summary>
public sealed class NotificationMetrics
{
    public const string MeterName = "Herald.Notifications";

    private readonly Counter<long> _dropped;
    private readonly ConcurrentDictionary<(ScopePath Scope, DroppedKind Kind), long> _totals = new();

    public NotificationMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _dropped = meters.Create(MeterName).CreateCounter<long>(
            "herald.notifications.dropped", description: "Recipients of notifications dropped because their scope's email was turned off.");
    }

    public void Dropped(ScopePath scope, DroppedKind kind, int recipients)
    {
        if (recipients <= 0)
        {
            return;
        }

        _dropped.Add(recipients, new("scope", scope.Value), new("kind", NameOf(kind)));
        _totals.AddOrUpdate((scope, kind), recipients, (_, n) => n + recipients);
    }

    public IEnumerable<KeyValuePair<(ScopePath Scope, DroppedKind Kind), long>> DroppedTotals => _totals;

    public static string NameOf(DroppedKind kind) => kind == DroppedKind.Immediate ? "immediate" : "digest";
}
