using Herald.Scopes;

namespace Herald.Notifications.Subscriptions;

/// <summary>The whole subscription and rule store: what the API and CLI manage and what keeps
/// every node's match index fresh.</summary>
public interface ISubscriptionRegistry : ISubscriptionStore
{
    /// <summary>Subscriptions, optionally only one owner's and only in a scope and the scopes below it.</summary>
    Task<IReadOnlyList<Subscription>> ListAsync(Principal? owner, ScopePath? scope, CancellationToken cancellationToken);

    /// <summary>Adds or replaces a subscription (by id); true when it is new.</summary>
    Task<bool> SaveAsync(Subscription subscription, CancellationToken cancellationToken);

    /// <summary>Removes it and records the removal for other nodes' indexes; false when there was none.</summary>
    Task<bool> RemoveAsync(string id, DateTimeOffset now, CancellationToken cancellationToken);

    Task<IReadOnlyList<NotificationRule>> ListRulesAsync(ScopePath? scope, CancellationToken cancellationToken);

    Task<bool> SaveRuleAsync(NotificationRule rule, CancellationToken cancellationToken);

    Task<bool> RemoveRuleAsync(string id, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Everything written at or after <paramref name="since"/>: saved subscriptions and
    /// rules (enabled or not) and removals. <see cref="DateTimeOffset.MinValue"/> loads everything.</summary>
    Task<SubscriptionChanges> ChangesSinceAsync(DateTimeOffset since, CancellationToken cancellationToken);
}

public enum RemovalKind
{
    Subscription,
    Rule,
}

public sealed record Removal(RemovalKind Kind, string Id, DateTimeOffset RemovedAt);

/// <summary><see cref="Latest"/>: the newest time among the changes (or the given one when none).</summary>
public sealed record SubscriptionChanges(
    IReadOnlyList<Subscription> Subscriptions, IReadOnlyList<NotificationRule> Rules, IReadOnlyList<Removal> Removals, DateTimeOffset Latest);
