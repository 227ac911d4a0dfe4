using System.Collections.Concurrent;
using System.Collections.Frozen;
using Herald.Scopes;

namespace Herald.Notifications;

/// <summary>
/// The directory at one revision, indexed for the fan-out path: each user's groups (transitive,
/// each once, cycles followed once) are worked out when the view is built, and access entries are
/// indexed by scope, so <see cref="AccessOf"/> is a few dictionary lookups per scope level.
/// Expanded group membership and a scope's administrators are computed on first use and kept for
/// the life of the view (it is replaced, not changed, when the directory changes). Disabled users
/// are left out of it.
/// </summary>
public sealed class DirectoryView : IDirectoryView
{
    private readonly FrozenDictionary<string, DirectoryUser> _users;
    private readonly FrozenDictionary<string, DirectoryUser> _usersByEmail;
    private readonly FrozenDictionary<string, DirectoryGroup> _groups;

    // For every user and every group: the groups that contain it, directly or through nesting.
    private readonly FrozenDictionary<string, string[]> _groupsOfUser;
    private readonly FrozenDictionary<string, string[]> _groupsOfGroup;

    private readonly FrozenDictionary<string, FrozenDictionary<Principal, AccessLevel>> _accessByScope;
    private readonly ConcurrentDictionary<string, DirectoryUser[]> _members = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ScopePath, DirectoryUser[]> _administrators = new();

    public DirectoryView(DirectorySnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        Revision = snapshot.Revision;
        // A disabled user (gone from their directory source, within its grace period) is not in
        // the view: they receive nothing, hold no access and are no group's member until enabled.
        var active = snapshot.Users.Where(u => u.DisabledAt is null).ToArray();
        _users = active.ToFrozenDictionary(u => u.Id, StringComparer.Ordinal);
        var byEmail = new Dictionary<string, DirectoryUser>(StringComparer.OrdinalIgnoreCase);
        foreach (var user in active.OrderBy(u => u.Id, StringComparer.Ordinal))
        {
            // Two users with one address: the first by id is the one an actor's email names.
            byEmail.TryAdd(user.Email.Value, user);
        }

        _usersByEmail = byEmail.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _groups = snapshot.Groups.ToFrozenDictionary(g => g.Id, StringComparer.Ordinal);
        (_groupsOfUser, _groupsOfGroup) = Containment(snapshot.Groups);
        _accessByScope = snapshot.Access
            .GroupBy(e => e.Scope.Value, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.ToFrozenDictionary(e => e.Principal, e => e.Level), StringComparer.Ordinal);
    }

    /// <summary>The directory revision this view was built from.</summary>
    public long Revision { get; }

    public static DirectoryView Empty { get; } = new(DirectorySnapshot.Empty);

    public int UserCount => _users.Count;

    public DirectoryUser? FindUser(string id) => _users.GetValueOrDefault(id);

    public DirectoryUser? FindUserByEmail(string email) => _usersByEmail.GetValueOrDefault(email.Trim());

    /// <summary>Users whose display name is <paramref name="name"/>, ignoring case (a display name
    /// is not an id: this only links a console account to its person, and only when one matches).</summary>
    public IReadOnlyList<DirectoryUser> FindUsersByName(string name) =>
        _users.Values.Where(u => string.Equals(u.Name, name, StringComparison.OrdinalIgnoreCase)).OrderBy(u => u.Id, StringComparer.Ordinal).ToArray();

    public DirectoryGroup? FindGroup(string id) => _groups.GetValueOrDefault(id);

    /// <summary>The groups the user belongs to, directly or through nested groups, each once.</summary>
    public IReadOnlyList<string> GroupsOf(string userId) => _groupsOfUser.GetValueOrDefault(userId) ?? [];

    public IReadOnlyList<DirectoryUser> MembersOf(string groupId) =>
        _groups.ContainsKey(groupId) ? _members.GetOrAdd(groupId, Expand) : [];

    public AccessLevel? AccessOf(string userId, ScopePath scope) =>
        _users.ContainsKey(userId) ? Strongest(Principal.User(userId), _groupsOfUser.GetValueOrDefault(userId), scope) : null;

    public AccessLevel? GroupAccessOf(string groupId, ScopePath scope) =>
        _groups.ContainsKey(groupId) ? Strongest(Principal.Group(groupId), _groupsOfGroup.GetValueOrDefault(groupId), scope) : null;

    public IReadOnlyList<DirectoryUser> AdministratorsOf(ScopePath scope) => _administrators.GetOrAdd(scope, FindAdministrators);

    private AccessLevel? Strongest(Principal principal, string[]? groups, ScopePath scope)
    {
        AccessLevel? best = null;
        for (ScopePath? level = scope; level is { } current; level = current.Parent)
        {
            if (!_accessByScope.TryGetValue(current.Value, out var entries))
            {
                continue;
            }

            if (entries.TryGetValue(principal, out var own) && (best is null || own > best))
            {
                best = own;
            }

            foreach (var group in groups ?? [])
            {
                if (entries.TryGetValue(Principal.Group(group), out var granted) && (best is null || granted > best))
                {
                    best = granted;
                }
            }

            if (best == AccessLevel.Admin)
            {
                break;
            }
        }

        return best;
    }

    private DirectoryUser[] FindAdministrators(ScopePath scope)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<DirectoryUser>();
        foreach (var level in scope.SelfAndAncestors())
        {
            if (!_accessByScope.TryGetValue(level.Value, out var entries))
            {
                continue;
            }

            foreach (var (principal, granted) in entries.OrderBy(e => e.Key.Kind).ThenBy(e => e.Key.Id, StringComparer.Ordinal))
            {
                if (granted != AccessLevel.Admin)
                {
                    continue;
                }

                var users = principal.Kind == PrincipalKind.User
                    ? _users.TryGetValue(principal.Id, out var user) ? [user] : []
                    : MembersOf(principal.Id);
                foreach (var candidate in users)
                {
                    if (seen.Add(candidate.Id))
                    {
                        result.Add(candidate);
                    }
                }
            }
        }

        return [.. result];
    }

    /// <summary>Depth first through the members in their stored order; a group met again (a
    /// diamond or a cycle) is not followed twice, a user reached twice is listed once.</summary>
    private DirectoryUser[] Expand(string groupId)
    {
        var visited = new HashSet<string>(StringComparer.Ordinal) { groupId };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<DirectoryUser>();
        var pending = new Stack<IEnumerator<Principal>>();
        pending.Push(_groups[groupId].Members.GetEnumerator());
        while (pending.Count > 0)
        {
            var members = pending.Peek();
            if (!members.MoveNext())
            {
                members.Dispose();
                pending.Pop();
                continue;
            }

            var member = members.Current;
            if (member.Kind == PrincipalKind.User)
            {
                if (_users.TryGetValue(member.Id, out var user) && seen.Add(user.Id))
                {
                    result.Add(user);
                }
            }
            else if (_groups.TryGetValue(member.Id, out var nested) && visited.Add(nested.Id))
            {
                pending.Push(nested.Members.GetEnumerator());
            }
        }

        return [.. result];
    }

    /// <summary>For every user and group, the groups containing it at any depth. A group's
    /// containers are found by walking up its parents once (memoised per group); users share
    /// their one group's array when they are in exactly one group, the common case of a big team.</summary>
    private static (FrozenDictionary<string, string[]> Users, FrozenDictionary<string, string[]> Groups) Containment(IReadOnlyList<DirectoryGroup> groups)
    {
        var parentsOfGroup = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var directOfUser = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var group in groups)
        {
            foreach (var member in group.Members)
            {
                var map = member.Kind == PrincipalKind.User ? directOfUser : parentsOfGroup;
                if (!map.TryGetValue(member.Id, out var list))
                {
                    map[member.Id] = list = [];
                }

                if (list.Count == 0 || list[^1] != group.Id)
                {
                    list.Add(group.Id);
                }
            }
        }

        var closure = new Dictionary<string, string[]>(StringComparer.Ordinal);
        string[] ClosureOf(string groupId)
        {
            if (closure.TryGetValue(groupId, out var known))
            {
                return known;
            }

            // Breadth first up the parents; the group itself comes first, then its containers.
            var found = new List<string> { groupId };
            var seen = new HashSet<string>(StringComparer.Ordinal) { groupId };
            for (var i = 0; i < found.Count; i++)
            {
                foreach (var parent in parentsOfGroup.GetValueOrDefault(found[i]) ?? [])
                {
                    if (seen.Add(parent))
                    {
                        found.Add(parent);
                    }
                }
            }

            return closure[groupId] = [.. found];
        }

        var ofGroups = groups.ToFrozenDictionary(g => g.Id, g => ClosureOf(g.Id)[1..], StringComparer.Ordinal);
        var ofUsers = directOfUser.ToFrozenDictionary(
            pair => pair.Key,
            pair => pair.Value.Count == 1 ? ClosureOf(pair.Value[0]) : pair.Value.SelectMany(ClosureOf).Distinct(StringComparer.Ordinal).ToArray(),
            StringComparer.Ordinal);
        return (ofUsers, ofGroups);
    }
}
