using Herald.Notifications;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Tests.Notifications;

/// <summary><see cref="DirectoryCache"/> over an in-memory store with a fake clock.</summary>
public sealed class DirectoryCacheTests
{
    private static readonly ScopePath Hr = ScopePath.Parse("/hr");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_change_on_another_node_is_seen_after_the_check_interval_and_not_before()
    {
        var store = new InMemoryDirectoryStore();
        store.Users.Add(DirectoryViewTests.User("alice"));
        store.Access.Add(new AccessEntry(Hr, Principal.User("alice"), AccessLevel.View));
        var clock = new FakeTimeProvider(new DateTimeOffset(2031, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var cache = new DirectoryCache(store, clock);

        Assert.Equal(AccessLevel.View, (await cache.CurrentAsync(Ct)).AccessOf("alice", Hr));

        store.Access.Clear();
        store.Revision++;
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(AccessLevel.View, (await cache.CurrentAsync(Ct)).AccessOf("alice", Hr));
        Assert.Equal(0, store.RevisionReads);

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Null((await cache.CurrentAsync(Ct)).AccessOf("alice", Hr));
        Assert.Equal(2, store.Loads);
    }

    [Fact]
    public async Task An_unchanged_revision_keeps_the_view_without_loading_again()
    {
        var store = new InMemoryDirectoryStore();
        var clock = new FakeTimeProvider();
        using var cache = new DirectoryCache(store, clock);
        var first = await cache.CurrentAsync(Ct);

        for (var i = 0; i < 5; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(3));
            Assert.Same(first, await cache.CurrentAsync(Ct));
        }

        Assert.Equal(1, store.Loads);
        Assert.Equal(5, store.RevisionReads);
    }

    [Fact]
    public async Task Revoking_on_this_node_takes_permission_away_at_once()
    {
        var store = new InMemoryDirectoryStore();
        store.Users.Add(DirectoryViewTests.User("alice"));
        store.Access.Add(new AccessEntry(Hr, Principal.User("alice"), AccessLevel.Edit));
        using var cache = new DirectoryCache(store, new FakeTimeProvider());
        var before = await cache.CurrentAsync(Ct);

        store.Access.Clear();
        store.Revision++;
        cache.Invalidate();
        var after = await cache.CurrentAsync(Ct);

        Assert.Equal(AccessLevel.Edit, before.AccessOf("alice", Hr));
        Assert.Null(after.AccessOf("alice", Hr));
        Assert.Equal(store.Revision, ((DirectoryView)after).Revision);
    }
}

/// <summary>Just enough of a directory store for the cache: lists the test fills, a revision it bumps.</summary>
internal sealed class InMemoryDirectoryStore : IDirectoryStore
{
    public List<DirectoryUser> Users { get; } = [];

    public List<DirectoryGroup> Groups { get; } = [];

    public List<AccessEntry> Access { get; } = [];

    public long Revision { get; set; } = 1;

    public int Loads { get; private set; }

    public int RevisionReads { get; private set; }

    public Task<long> GetRevisionAsync(CancellationToken cancellationToken)
    {
        RevisionReads++;
        return Task.FromResult(Revision);
    }

    public Task<DirectorySnapshot> LoadAsync(CancellationToken cancellationToken)
    {
        Loads++;
        return Task.FromResult(new DirectorySnapshot(Revision, [.. Users], [.. Groups], [.. Access]));
    }

    public Task<IReadOnlyList<DirectoryUser>> ListUsersAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<DirectoryUser?> FindUserAsync(string id, CancellationToken cancellationToken) => Task.FromResult(Users.FirstOrDefault(u => u.Id == id));

    public Task<bool> SaveUserAsync(DirectoryUser user, DateTimeOffset now, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<bool> RemoveUserAsync(string id, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<IReadOnlyList<DirectoryGroup>> ListGroupsAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<DirectoryGroup?> FindGroupAsync(string id, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<GroupSave> SaveGroupAsync(DirectoryGroup group, DateTimeOffset now, DirectoryCheck? checkMembers, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    public Task<bool> RemoveGroupAsync(string id, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<IReadOnlySet<Principal>> FindExistingAsync(IReadOnlyCollection<Principal> principals, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<IReadOnlyList<AccessEntry>> ListAccessAsync(IReadOnlyCollection<ScopePath>? scopes, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<(bool Created, IReadOnlyList<FieldError> Errors)> GrantAsync(AccessEntry entry, DirectoryCheck check, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    public Task<bool> RevokeAsync(ScopePath scope, Principal principal, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<IReadOnlyList<FieldError>> ImportAsync(
        IReadOnlyList<DirectoryUser> users, IReadOnlyList<DirectoryGroup> groups, DateTimeOffset now, DirectoryCheck check, CancellationToken cancellationToken) =>
        throw new NotSupportedException();
}
