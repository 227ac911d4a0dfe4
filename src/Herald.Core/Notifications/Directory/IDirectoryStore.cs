using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications;

/// <summary>Everything the directory holds, read at one revision: what a <see cref="DirectoryView"/> is built from.</summary>
public sealed record DirectorySnapshot(
    long Revision, IReadOnlyList<DirectoryUser> Users, IReadOnlyList<DirectoryGroup> Groups, IReadOnlyList<AccessEntry> Access)
{
    public static readonly DirectorySnapshot Empty = new(0, [], [], []);
}

/// <summary>What a group save or an import is checked against, read inside its write transaction,
/// after every earlier directory write has committed and before any later one starts: which of
/// the principals the write names exist (a saved group's new members; an import's users, groups
/// and members; a grant's principal), and every group-in-group membership as stored.</summary>
public sealed record DirectoryGraph(IReadOnlySet<Principal> Existing, IReadOnlyList<(string GroupId, string MemberGroupId)> Nested)
{
    /// <summary>Which of the principals the write names are synced, and from which source (read-only here).</summary>
    public IReadOnlyDictionary<Principal, string> Synced { get; init; } = new Dictionary<Principal, string>();
}

/// <summary>A check run inside a directory write: the problems found, by field; none lets the write land.</summary>
public delegate IReadOnlyList<FieldError> DirectoryCheck(DirectoryGraph graph);

/// <summary>A group save: the group as stored when it landed (its members as they are at commit
/// when the save kept them), or nothing stored and the problems the check found.</summary>
public sealed record GroupSave(DirectoryGroup? Saved, bool Created, IReadOnlyList<FieldError> Errors);

/// <summary>
/// Users, groups (with their members) and the scopes' access lists. Every write bumps the
/// directory's revision in the same transaction, so that every node sees that its view is old.
/// Lists come back in id order; a group's members ordered by kind (users first), then id.
/// Directory writes never overlap, on any node: the check a write runs (do the members exist?
/// would a group contain itself?) sees the directory exactly as the write will change it, so that
/// two concurrent saves cannot together store a cycle, nor a member removed meanwhile.
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

    /// <summary>Removes the user with their group memberships and access entries (serialized with
    /// every other directory write, so that no checked save stores them again as a member).</summary>
    Task<bool> RemoveUserAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<DirectoryGroup>> ListGroupsAsync(CancellationToken cancellationToken);

    Task<DirectoryGroup?> FindGroupAsync(string id, CancellationToken cancellationToken);

    /// <summary>Adds the group or replaces its fields. With <paramref name="checkMembers"/>, its
    /// members are replaced by <c>group.Members</c> when the check, given the graph read inside the
    /// write, finds nothing wrong; otherwise nothing is written. Without it, the stored members are
    /// kept as they are at commit (<c>group.Members</c> is not used).</summary>
    Task<GroupSave> SaveGroupAsync(DirectoryGroup group, DateTimeOffset now, DirectoryCheck? checkMembers, CancellationToken cancellationToken);

    /// <summary>Removes the group with its own members list, its membership in other groups and its
    /// access entries (serialized like <see cref="RemoveUserAsync"/>).</summary>
    Task<bool> RemoveGroupAsync(string id, CancellationToken cancellationToken);

    /// <summary>Which of these principals exist as users or groups (a read outside any write: to
    /// report problems, never to decide a write).</summary>
    Task<IReadOnlySet<Principal>> FindExistingAsync(IReadOnlyCollection<Principal> principals, CancellationToken cancellationToken);

    /// <summary>The access entries of these scopes (all scopes when null), by scope, then principal.</summary>
    Task<IReadOnlyList<AccessEntry>> ListAccessAsync(IReadOnlyCollection<ScopePath>? scopes, CancellationToken cancellationToken);

    /// <summary>Adds the entry or changes its level (Created when new) when <paramref name="check"/>,
    /// given the graph read inside the write (whether the principal exists), finds nothing wrong;
    /// its problems otherwise, and nothing is written.</summary>
    Task<(bool Created, IReadOnlyList<FieldError> Errors)> GrantAsync(AccessEntry entry, DirectoryCheck check, CancellationToken cancellationToken);

    Task<bool> RevokeAsync(ScopePath scope, Principal principal, CancellationToken cancellationToken);

    /// <summary>Adds or replaces every user and group given (groups' members replaced), all in one
    /// transaction with one new revision, when <paramref name="check"/>, given the graph read inside
    /// that transaction, finds nothing wrong; its problems otherwise, and nothing is written. A
    /// failure leaves the directory as it was.</summary>
    Task<IReadOnlyList<FieldError>> ImportAsync(
        IReadOnlyList<DirectoryUser> users, IReadOnlyList<DirectoryGroup> groups, DateTimeOffset now, DirectoryCheck check, CancellationToken cancellationToken);

    /// <summary>A directory sync of <paramref name="source"/>: <paramref name="plan"/> is given the
    /// users and groups read inside one serialized write, and what it decides is applied in that
    /// transaction with one new revision, unless it stopped or changes nothing. Only the source's
    /// own items are changed: a row that is local or another source's is never overwritten.</summary>
    Task<Sync.DirectorySyncPlan> SyncAsync(string source, Func<DirectorySnapshot, Sync.DirectorySyncPlan> plan, DateTimeOffset now, CancellationToken cancellationToken);
}
