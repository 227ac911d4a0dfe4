using Herald.Scopes;

namespace Herald.Notifications;

/// <summary>Everything the directory holds, read at one revision: what a <see cref="DirectoryView"/> is built from.</summary>
public sealed record DirectorySnapshot(
    long Revision, IReadOnlyList<DirectoryUser> Users, IReadOnlyList<DirectoryGroup> Groups, IReadOnlyList<AccessEntry> Access)
{
    public static readonly DirectorySnapshot Empty = new(0, [], [], []);
}

/// <summary>
/// Users, groups (with their members) and the scopes' access lists. Every write bumps the
/// directory's revision in the same transaction, so that every node sees that its view is old.
/// Lists come back in id order; a group's members ordered by kind (users first), then id.
/// </summary>
public interface IDirectoryStore
{
    Task<long> GetRevisionAsync(CancellationToken cancellationToken);

    /// <summary>Users, groups and access entries as of one revision (no write committed in between).</summary>
    Task<DirectorySnapshot> LoadAsync(CancellationToken cancellationToken);

    Task<IReadOnlyList<DirectoryUser>> ListUsersAsync(CancellationToken cancellationToken);

    Task<DirectoryUser?> FindUserAsync(string id, CancellationToken cancellationToken);

    /// <summary>Adds the user or replaces their fields; true when new.</summary>
    Task<bool> SaveUserAsync(DirectoryUser user, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Removes the user with their group memberships and access entries.</summary>
    Task<bool> RemoveUserAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<DirectoryGroup>> ListGroupsAsync(CancellationToken cancellationToken);

    Task<DirectoryGroup?> FindGroupAsync(string id, CancellationToken cancellationToken);

    /// <summary>Adds the group or replaces its fields; its members are replaced by the given list. True when new.</summary>
    Task<bool> SaveGroupAsync(DirectoryGroup group, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Removes the group with its own members list, its membership in other groups and its access entries.</summary>
    Task<bool> RemoveGroupAsync(string id, CancellationToken cancellationToken);

    /// <summary>Which of these principals exist as users or groups.</summary>
    Task<IReadOnlySet<Principal>> FindExistingAsync(IReadOnlyCollection<Principal> principals, CancellationToken cancellationToken);

    /// <summary>Every group-in-group membership: (group id, member group id).</summary>
    Task<IReadOnlyList<(string GroupId, string MemberGroupId)>> ListNestedGroupsAsync(CancellationToken cancellationToken);

    /// <summary>The access entries of these scopes (all scopes when null), by scope, then principal.</summary>
    Task<IReadOnlyList<AccessEntry>> ListAccessAsync(IReadOnlyCollection<ScopePath>? scopes, CancellationToken cancellationToken);

    /// <summary>Adds the entry or changes its level; true when new.</summary>
    Task<bool> GrantAsync(AccessEntry entry, CancellationToken cancellationToken);

    Task<bool> RevokeAsync(ScopePath scope, Principal principal, CancellationToken cancellationToken);

    /// <summary>Adds or replaces every user and group given (groups' members replaced), all in one
    /// transaction with one new revision: a failure leaves the directory as it was.</summary>
    Task ImportAsync(IReadOnlyList<DirectoryUser> users, IReadOnlyList<DirectoryGroup> groups, DateTimeOffset now, CancellationToken cancellationToken);
}
