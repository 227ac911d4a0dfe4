namespace Herald.Notifications.Digests;

/// <summary>One digest window done for one recipient: its end names it.</summary>
public sealed record DigestRun(string SubscriptionId, string Recipient, DateTimeOffset WindowEnd, string Node, DateTimeOffset CreatedAt);

/// <summary>A window whose digest failed for a reason of its own (a template, a bug) and is
/// retrying: due again from <see cref="NextAttemptAt"/>.</summary>
public sealed record DigestRetry(string Recipient, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, int Failures, DateTimeOffset NextAttemptAt);

/// <summary>A failure of one window's digest for one recipient, while <see cref="Node"/> worked on it.</summary>
public sealed record DigestFailure(string SubscriptionId, string Recipient, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, string Node, DateTimeOffset At, Work.ItemFailure Failure);

/// <summary>A quarantined digest: one window of a subscription for one recipient.</summary>
public sealed record FailedDigest(
    string SubscriptionId, string SubscriptionName, Scopes.ScopePath Scope, string Recipient, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, int Failures, string? LastError);

/// <summary>The <c>digest_events</c> and <c>digest_runs</c> tables.</summary>
public interface IDigestStore : IDigestInbox
{
    /// <summary>Per recipient of the subscription, the end of the latest window done or tried
    /// (sent, retrying or failed): a new window starts there.</summary>
    Task<IReadOnlyDictionary<string, DateTimeOffset>> LastRunsAsync(string subscriptionId, CancellationToken cancellationToken);

    /// <summary>The subscription's events received in [<paramref name="windowStart"/>, <paramref name="windowEnd"/>),
    /// oldest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<NotificationEvent>> EventsAsync(string subscriptionId, DateTimeOffset windowStart, DateTimeOffset windowEnd, int limit, CancellationToken cancellationToken);

    /// <summary>Records windows as done (sent, or empty); one already sent (by another node) is
    /// left as it is, one that was retrying is done now.</summary>
    Task RecordRunsAsync(IReadOnlyList<DigestRun> runs, CancellationToken cancellationToken);

    /// <summary>The subscription's retrying windows due at <paramref name="now"/>.</summary>
    Task<IReadOnlyList<DigestRetry>> RetriesDueAsync(string subscriptionId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Records a failure: retrying from <see cref="Work.ItemFailure.RetryAt"/>, or
    /// quarantined. A window sent meanwhile (by another node) stays sent.</summary>
    Task RecordFailureAsync(DigestFailure failure, CancellationToken cancellationToken);

    /// <summary>Quarantined digests of subscriptions in <paramref name="scope"/> and below, newest window first.</summary>
    Task<IReadOnlyList<FailedDigest>> ListFailedAsync(Scopes.ScopePath scope, int limit, CancellationToken cancellationToken);

    Task<long> CountFailedAsync(Scopes.ScopePath scope, CancellationToken cancellationToken);

    Task<FailedDigest?> FindFailedAsync(string subscriptionId, string recipient, DateTimeOffset windowEnd, CancellationToken cancellationToken);

    /// <summary>Makes a quarantined digest due now, with no failure counted; false when it is not quarantined.</summary>
    Task<bool> RetryAsync(string subscriptionId, string recipient, DateTimeOffset windowEnd, CancellationToken cancellationToken);

    /// <summary>Deletes digest items received before <paramref name="itemsBefore"/> and runs of
    /// windows that ended before <paramref name="runsBefore"/>.</summary>
    Task<int> PurgeAsync(DateTimeOffset itemsBefore, DateTimeOffset runsBefore, CancellationToken cancellationToken);
}
