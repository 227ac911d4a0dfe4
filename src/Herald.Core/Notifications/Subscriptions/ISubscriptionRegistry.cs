using Herald.Scopes;

namespace Herald.Notifications.Subscriptions;

/// <summary>The whole subscription and rule store: what the API and CLI manage and what keeps
/// every node's match index fresh.</summary>
public interface ISubscriptionRegistry : ISubscriptionStore
{
    /// <summary>Subscriptions, optionally only one owner's and only in a scope and the scopes below
    /// it (by whole segments: /hr is not /hr2, and '_' in a name is only itself).</summary>
    Task<IReadOnlyList<Subscription>> ListAsync(Principal? owner, ScopePath? scope, CancellationToken cancellationToken);

    /// <summary>Adds the subscription when its id is free, or replaces the one stored under its id
    /// when <paramref name="mayReplace"/>, given that one's scope, allows it; otherwise stores
    /// nothing (<see cref="SaveOutcome.Taken"/>). Decided inside the write, which no other save or
    /// removal overlaps, so that two saves of one id never both land.</summary>
    Task<SaveOutcome> SaveAsync(Subscription subscription, Func<ScopePath, bool> mayReplace, CancellationToken cancellationToken);

    /// <summary>Adds or replaces a subscription (by id), whatever is stored; true when it is new.</summary>
    Task<bool> SaveAsync(Subscription subscription, CancellationToken cancellationToken);

    /// <summary>Removes the subscription <paramref name="id"/> if it is in <paramref name="scope"/>
    /// and records the removal for other nodes' indexes; false when there was none there.</summary>
    Task<bool> RemoveAsync(string id, ScopePath scope, DateTimeOffset now, CancellationToken cancellationToken);

    Task<IReadOnlyList<NotificationRule>> ListRulesAsync(ScopePath? scope, CancellationToken cancellationToken);

    /// <summary>As <see cref="SaveAsync(Subscription, Func{ScopePath, bool}, CancellationToken)"/>, for a rule.</summary>
    Task<SaveOutcome> SaveRuleAsync(NotificationRule rule, Func<ScopePath, bool> mayReplace, CancellationToken cancellationToken);

    /// <summary>Adds or replaces a rule (by id), whatever is stored; true when it is new.</summary>
    Task<bool> SaveRuleAsync(NotificationRule rule, CancellationToken cancellationToken);

    /// <summary>As <see cref="RemoveAsync"/>, for a rule.</summary>
    Task<bool> RemoveRuleAsync(string id, ScopePath scope, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Everything written at or after <paramref name="since"/>: saved subscriptions and
    /// rules (enabled or not) and removals. <see cref="DateTimeOffset.MinValue"/> loads everything.</summary>
    Task<SubscriptionChanges> ChangesSinceAsync(DateTimeOffset since, CancellationToken cancellationToken);
}

/// <summary>What a checked save did.</summary>
public enum SaveOutcome
{
    Created,
    Replaced,

    /// <summary>The id is stored in a scope the save may not replace: nothing was stored.</summary>
    Taken,
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
