namespace Herald.Notifications.Digests;

/// <summary>One digest window done for one recipient: its end names it.</summary>
public sealed record DigestRun(string SubscriptionId, string Recipient, DateTimeOffset WindowEnd, string Node, DateTimeOffset CreatedAt);

/// <summary>The <c>digest_events</c> and <c>digest_runs</c> tables.</summary>
public interface IDigestStore : IDigestInbox
{
    /// <summary>Per recipient of the subscription, the end of the latest window done.</summary>
    Task<IReadOnlyDictionary<string, DateTimeOffset>> LastRunsAsync(string subscriptionId, CancellationToken cancellationToken);

    /// <summary>The subscription's events received in [<paramref name="windowStart"/>, <paramref name="windowEnd"/>),
    /// oldest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<NotificationEvent>> EventsAsync(string subscriptionId, DateTimeOffset windowStart, DateTimeOffset windowEnd, int limit, CancellationToken cancellationToken);

    /// <summary>Records windows as done; one already recorded (by another node) is left as it is.</summary>
    Task RecordRunsAsync(IReadOnlyList<DigestRun> runs, CancellationToken cancellationToken);

    /// <summary>Deletes digest items received before <paramref name="itemsBefore"/> and runs of
    /// windows that ended before <paramref name="runsBefore"/>.</summary>
    Task<int> PurgeAsync(DateTimeOffset itemsBefore, DateTimeOffset runsBefore, CancellationToken cancellationToken);
}
