using System.Collections.Concurrent;
using Herald.Notifications;
using Herald.Scopes;

namespace Herald.Testing;

/// <summary>The subscription store as another part of the engine provides it, in memory: what
/// unsubscribe and digest tests check their effects on.</summary>
internal sealed class InMemorySubscriptionStore : ISubscriptionStore
{
    private readonly Lock _lock = new();

    public ConcurrentDictionary<string, Subscription> Subscriptions { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, NotificationRule> Rules { get; } = new(StringComparer.Ordinal);

    public HashSet<NotificationOrigin> OptOuts { get; } = [];

    public int Disables { get; private set; }

    public void Add(Subscription subscription) => Subscriptions[subscription.Id] = subscription;

    public Task<Subscription?> FindAsync(string id, CancellationToken cancellationToken) =>
        Task.FromResult(Subscriptions.GetValueOrDefault(id));

    public Task<IReadOnlyList<Subscription>> ListDigestSubscriptionsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<Subscription>>(Subscriptions.Values
            .Where(s => s.Enabled && s.Schedule.Frequency != NotificationFrequency.Immediate).OrderBy(s => s.Id, StringComparer.Ordinal).ToArray());

    public Task<NotificationRule?> FindRuleAsync(string id, CancellationToken cancellationToken) =>
        Task.FromResult(Rules.GetValueOrDefault(id));

    public Task<bool> DisableAsync(string subscriptionId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!Subscriptions.TryGetValue(subscriptionId, out var subscription))
            {
                return Task.FromResult(false);
            }

            Disables++;
            Subscriptions[subscriptionId] = subscription with { Enabled = false, UpdatedAt = now };
            return Task.FromResult(true);
        }
    }

    public Task<bool> AddOptOutAsync(NotificationOrigin optOut, DateTimeOffset now, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(OptOuts.Add(optOut));
        }
    }

    public Task<bool> RemoveOptOutAsync(NotificationOrigin optOut, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(OptOuts.Remove(optOut));
        }
    }

    public Task<IReadOnlySet<string>> OptOutsAsync(NotificationSourceKind kind, string sourceId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlySet<string>>(OptOuts.Where(o => o.Kind == kind && o.SourceId == sourceId).Select(o => o.Recipient).ToHashSet());
        }
    }
}

/// <summary>A directory of a few users, without groups or access lists beyond what a test sets.</summary>
internal sealed class InMemoryDirectory(params DirectoryUser[] users) : IDirectory, IDirectoryView
{
    public ValueTask<IDirectoryView> CurrentAsync(CancellationToken cancellationToken) => ValueTask.FromResult<IDirectoryView>(this);

    public DirectoryUser? FindUser(string id) => users.FirstOrDefault(u => u.Id == id);

    public DirectoryUser? FindUserByEmail(string email) => users.FirstOrDefault(u => string.Equals(u.Email.Value, email, StringComparison.OrdinalIgnoreCase));

    public DirectoryGroup? FindGroup(string id) => null;

    public IReadOnlyList<DirectoryUser> MembersOf(string groupId) => [];

    public AccessLevel? AccessOf(string userId, ScopePath scope) => AccessLevel.View;

    public AccessLevel? GroupAccessOf(string groupId, ScopePath scope) => null;

    public IReadOnlyList<DirectoryUser> AdministratorsOf(ScopePath scope) => [];
}

/// <summary>Recipients as a personal subscription has them: its owner, from the directory.</summary>
internal sealed class OwnerRecipients : ISubscriptionRecipients
{
    public ValueTask<IReadOnlyList<NotificationRecipient>> ResolveAsync(Subscription subscription, IDirectoryView directory, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<NotificationRecipient>>(
            subscription.Owner.Kind == PrincipalKind.User && directory.FindUser(subscription.Owner.Id) is { } user ? [new NotificationRecipient(user.Email, user)] : []);
}
