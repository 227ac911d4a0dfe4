using Herald.Notifications;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.IntegrationTests.Notifications;

/// <summary>An in-memory directory (the real one is another part of issue 4): users, groups with
/// nested members, access entries inherited down the scope tree.</summary>
internal sealed class FakeDirectory : IDirectory, IDirectoryView
{
    private readonly Dictionary<string, DirectoryUser> _users = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DirectoryGroup> _groups = new(StringComparer.Ordinal);
    private readonly List<AccessEntry> _access = [];

    public DirectoryUser AddUser(string id, string? email = null)
    {
        var user = new DirectoryUser(id, $"User {id}", EmailAddress.Parse(email ?? $"{id}@example.com"), "Europe/Berlin", "en");
        _users[id] = user;
        return user;
    }

    public void AddGroup(string id, string? alias = null, GroupDelivery delivery = GroupDelivery.Members, params Principal[] members) =>
        _groups[id] = new DirectoryGroup(id, $"Group {id}", alias is null ? null : EmailAddress.Parse(alias), delivery, members);

    public void Grant(string scope, Principal principal, AccessLevel level) => _access.Add(new AccessEntry(ScopePath.Parse(scope), principal, level));

    public void Revoke(string scope, Principal principal) => _access.RemoveAll(e => e.Scope.Value == scope && e.Principal == principal);

    public ValueTask<IDirectoryView> CurrentAsync(CancellationToken cancellationToken) => ValueTask.FromResult<IDirectoryView>(this);

    public DirectoryUser? FindUser(string id) => _users.GetValueOrDefault(id);

    public DirectoryUser? FindUserByEmail(string email) => _users.Values.FirstOrDefault(u => string.Equals(u.Email.Value, email, StringComparison.OrdinalIgnoreCase));

    public DirectoryGroup? FindGroup(string id) => _groups.GetValueOrDefault(id);

    public IReadOnlyList<DirectoryUser> MembersOf(string groupId)
    {
        var users = new List<DirectoryUser>();
        var seen = new HashSet<string>();
        Walk(groupId);
        return users.DistinctBy(u => u.Id).ToArray();

        void Walk(string id)
        {
            if (!seen.Add(id) || !_groups.TryGetValue(id, out var group))
            {
                return;
            }

            foreach (var member in group.Members)
            {
                if (member.Kind == PrincipalKind.User && _users.TryGetValue(member.Id, out var user))
                {
                    users.Add(user);
                }
                else if (member.Kind == PrincipalKind.Group)
                {
                    Walk(member.Id);
                }
            }
        }
    }

    public AccessLevel? AccessOf(string userId, ScopePath scope) =>
        Strongest(scope, p => p == Principal.User(userId) || (p.Kind == PrincipalKind.Group && MembersOf(p.Id).Any(u => u.Id == userId)));

    public AccessLevel? GroupAccessOf(string groupId, ScopePath scope) => Strongest(scope, p => p == Principal.Group(groupId));

    public IReadOnlyList<DirectoryUser> AdministratorsOf(ScopePath scope) =>
        _users.Values.Where(u => AccessOf(u.Id, scope) == AccessLevel.Admin).OrderBy(u => u.Id, StringComparer.Ordinal).ToArray();

    private AccessLevel? Strongest(ScopePath scope, Func<Principal, bool> holds) =>
        _access.Where(e => scope.IsSameOrDescendantOf(e.Scope) && holds(e.Principal)).Select(e => (AccessLevel?)e.Level).Max();
}

/// <summary>Renders "{type}: {title}" (the real templates are another part of issue 4).</summary>
internal sealed class FakeTemplates : INotificationTemplates
{
    public ValueTask<RenderedNotification> RenderEventAsync(
        NotificationEvent notificationEvent, NotificationRecipient recipient, string sourceName, Uri unsubscribe, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new RenderedNotification($"{notificationEvent.Type}: {notificationEvent.Title}", $"{notificationEvent.Title} ({sourceName})", null));

    public ValueTask<RenderedNotification> RenderDigestAsync(
        Subscription subscription, IReadOnlyList<NotificationEvent> events, DigestWindow window, NotificationRecipient recipient, Uri unsubscribe, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Digests are rendered by the digest scheduler.");
}

/// <summary>Templates whose first render waits until the test opens the gate: a fan-out that takes
/// as long as the test wants.</summary>
internal sealed class GatedTemplates : INotificationTemplates
{
    private readonly FakeTemplates _templates = new();
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Entered => _entered.Task;

    public void Open() => _gate.TrySetResult();

    public async ValueTask<RenderedNotification> RenderEventAsync(
        NotificationEvent notificationEvent, NotificationRecipient recipient, string sourceName, Uri unsubscribe, CancellationToken cancellationToken)
    {
        _entered.TrySetResult();
        await _gate.Task.WaitAsync(cancellationToken);
        return await _templates.RenderEventAsync(notificationEvent, recipient, sourceName, unsubscribe, cancellationToken);
    }

    public ValueTask<RenderedNotification> RenderDigestAsync(
        Subscription subscription, IReadOnlyList<NotificationEvent> events, DigestWindow window, NotificationRecipient recipient, Uri unsubscribe, CancellationToken cancellationToken) =>
        _templates.RenderDigestAsync(subscription, events, window, recipient, unsubscribe, cancellationToken);
}

/// <summary>Links that spell out their origin, so a test can see which source an email names.</summary>
internal sealed class FakeUnsubscribeLinks : IUnsubscribeLinks
{
    public ValueTask<Uri> CreateAsync(NotificationOrigin origin, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new Uri($"https://herald.test/unsubscribe/{origin.Kind.ToString().ToLowerInvariant()}/{origin.SourceId}/{Uri.EscapeDataString(origin.Recipient)}"));
}

internal sealed class RecordingDigestInbox : IDigestInbox
{
    public List<DigestEntry> Entries { get; } = [];

    public Task AddAsync(IReadOnlyList<DigestEntry> entries, CancellationToken cancellationToken)
    {
        Entries.AddRange(entries);
        return Task.CompletedTask;
    }
}
