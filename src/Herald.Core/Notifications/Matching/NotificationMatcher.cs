using Herald.Notifications.Subscriptions;

namespace Herald.Notifications.Matching;

/// <summary>
/// This node's match indexes of enabled subscriptions and rules, kept fresh from the store: a
/// full load the first time, then what changed since the newest change seen (saves by
/// <c>updated_at</c>, removals from <c>notification_removals</c>), every
/// <see cref="NotificationOptions.IndexRefreshInterval"/> and at once after a change made here.
/// </summary>
public sealed class NotificationMatcher(ISubscriptionRegistry store, TimeProvider time) : IDisposable
{
    /// <summary>Changes are read again from this far before the newest one seen: a write stamped
    /// earlier (another node's clock, a transaction that committed late) is not missed, and
    /// applying one twice changes nothing.</summary>
    public static readonly TimeSpan Overlap = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private DateTimeOffset? _seen;
    private DateTimeOffset _lastRefresh = DateTimeOffset.MinValue;

    public SubscriptionIndex<Subscription> Subscriptions { get; } = new(s => s.Id, s => s.Scope, s => s.Filter);

    public SubscriptionIndex<NotificationRule> Rules { get; } = new(r => r.Id, r => r.Scope, r => r.Filter);

    public bool Loaded => _seen is not null;

    public async Task RefreshIfDueAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        if (_seen is null || time.GetUtcNow() - _lastRefresh >= interval)
        {
            await RefreshAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>What a use case calls after changing a subscription or rule: a node whose index is
    /// loaded (serve) reads the change at once, so that its next event sees it; a process that has
    /// never matched an event (a CLI verb) does not load a million subscriptions for nothing.</summary>
    public async Task LearnChangesAsync(CancellationToken cancellationToken)
    {
        if (Loaded)
        {
            await RefreshAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var started = time.GetUtcNow();
            var full = _seen is null;
            var changes = await store.ChangesSinceAsync(full ? DateTimeOffset.MinValue : _seen!.Value - Overlap, cancellationToken).ConfigureAwait(false);
            if (full)
            {
                Subscriptions.Reset(changes.Subscriptions.Where(s => s.Enabled));
                Rules.Reset(changes.Rules.Where(r => r.Enabled));
            }
            else
            {
                // A store keeps an id in at most one of the two lists (a save forgets its removal).
                foreach (var removal in changes.Removals)
                {
                    _ = removal.Kind == RemovalKind.Subscription ? Subscriptions.Remove(removal.Id) : Rules.Remove(removal.Id);
                }

                foreach (var subscription in changes.Subscriptions)
                {
                    Apply(Subscriptions, subscription, subscription.Id, subscription.Enabled);
                }

                foreach (var rule in changes.Rules)
                {
                    Apply(Rules, rule, rule.Id, rule.Enabled);
                }
            }

            _seen = changes.Latest > (_seen ?? DateTimeOffset.MinValue) ? changes.Latest : _seen ?? started;
            _lastRefresh = started;
        }
        finally
        {
            _refreshing.Release();
        }
    }

    public void Dispose() => _refreshing.Dispose();

    private static void Apply<T>(SubscriptionIndex<T> index, T item, string id, bool enabled)
        where T : class
    {
        if (enabled)
        {
            index.Upsert(item);
        }
        else
        {
            index.Remove(id);
        }
    }
}
