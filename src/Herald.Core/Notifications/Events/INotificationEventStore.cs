namespace Herald.Notifications.Events;

/// <summary>Events from the moment they are acknowledged until they have been matched and fanned
/// out. An event is named by its <see cref="EventKey"/> (scope and id): ids are unique within a
/// scope, not across scopes.</summary>
public interface INotificationEventStore
{
    /// <summary>Stores new events (state pending) durably; for each, true when its id was already
    /// stored in its scope (a duplicate, ignored). Checkpoint: the rows are committed before this returns.</summary>
    Task<IReadOnlyList<bool>> AddAsync(IReadOnlyList<NotificationEvent> events, CancellationToken cancellationToken);

    /// <summary>Pending events nobody holds (or whose holder's lease ran out), oldest first,
    /// leased to <paramref name="node"/> until now + <paramref name="lease"/>.</summary>
    Task<IReadOnlyList<NotificationEvent>> ClaimAsync(string node, int max, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Extends to <paramref name="until"/> the leases <paramref name="node"/> still holds
    /// among <paramref name="events"/> (pending events it claimed); returns those. A lease another
    /// node has taken over is not extended.</summary>
    Task<IReadOnlyList<EventKey>> RenewAsync(string node, IReadOnlyList<EventKey> events, DateTimeOffset until, CancellationToken cancellationToken);

    /// <summary>Marks the event done; false when this node no longer holds it (its lease ran out
    /// and another node took it).</summary>
    Task<bool> CompleteAsync(EventKey key, string node, DateTimeOffset now, CancellationToken cancellationToken) =>
        CompleteAsync(key, node, now, null, cancellationToken);

    /// <summary>As the other overload; <paramref name="outcome"/> (the fan-out's counts) goes to
    /// the webhooks that ask for it, in the same transaction that marks the event done.</summary>
    Task<bool> CompleteAsync(EventKey key, string node, DateTimeOffset now, Webhooks.WebhookEvent? outcome, CancellationToken cancellationToken);

    /// <summary>Gives the event back, still pending, claimable again from <paramref name="retryAt"/>.</summary>
    Task ReleaseAsync(EventKey key, string node, DateTimeOffset retryAt, CancellationToken cancellationToken);

    Task<NotificationEvent?> FindAsync(EventKey key, CancellationToken cancellationToken);

    /// <summary>Records a failure of the event's own while <paramref name="node"/> held it: its
    /// count and reason; pending again from <see cref="Work.ItemFailure.RetryAt"/>, or state
    /// <c>failed</c> when quarantined. False when the node no longer held it.</summary>
    Task<bool> FailAsync(EventKey key, string node, Work.ItemFailure failure, CancellationToken cancellationToken);

    /// <summary>Quarantined events of <paramref name="scope"/> and the scopes below it, newest first.</summary>
    Task<IReadOnlyList<FailedEvent>> ListFailedAsync(Scopes.ScopePath scope, int limit, CancellationToken cancellationToken);

    /// <summary>Quarantined events of <paramref name="scope"/> and the scopes below it.</summary>
    Task<long> CountFailedAsync(Scopes.ScopePath scope, CancellationToken cancellationToken);

    /// <summary>Makes a quarantined event pending again, due now, with no failure counted; false
    /// when it is not quarantined (or does not exist).</summary>
    Task<bool> RetryAsync(EventKey key, CancellationToken cancellationToken);
}
