using System.Globalization;
using System.Text.RegularExpressions;
using Herald.Access;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications;

/// <summary>A change to one user (CLI, API or one import line); a null field keeps the stored
/// value, or takes the default (time zone UTC, language en) for a new user. A new user needs a
/// name and an email.</summary>
public sealed record UserUpdate(string? Id)
{
    public string? Name { get; init; }

    public string? Email { get; init; }

    public string? TimeZone { get; init; }

    public string? Language { get; init; }
}

/// <summary>A change to one group; a null field keeps the stored value. <see cref="Members"/>
/// (<c>user:alice</c>, <c>group:payroll</c>) replaces the stored list; an empty
/// <see cref="Alias"/> removes the alias. A new group needs a name; delivery defaults to members,
/// and <see cref="Scope"/> (the scope it belongs to) to <c>/</c>.</summary>
public sealed record GroupUpdate(string? Id)
{
    public string? Name { get; init; }

    public string? Scope { get; init; }

    public string? Alias { get; init; }

    public string? Delivery { get; init; }

    public IReadOnlyList<string>? Members { get; init; }
}

/// <summary>A scope's access list: its own entries, and for every principal with an entry on the
/// scope or an ancestor, the strongest level and the nearest scope that grants it.</summary>
public sealed record ScopeAccess(ScopePath Scope, IReadOnlyList<AccessEntry> Own, IReadOnlyList<EffectiveAccess> Effective);

public sealed record EffectiveAccess(Principal Principal, AccessLevel Level, ScopePath From)
{
    public bool Inherited(ScopePath scope) => From != scope;
}

/// <summary>What an import did.</summary>
public sealed record ImportReport(int UsersAdded, int UsersChanged, int GroupsAdded, int GroupsChanged);

/// <summary>
/// The one place where the directory and the access lists are read and changed (API, console,
/// CLI, import), given the caller: any administrator reads the directory; only administrators of
/// <c>/</c> change its users and import (they serve every scope); a group is changed by the
/// administrators of the scope it belongs to (or an ancestor's), as Harness keeps user groups per
/// account, organisation and project; and a scope's administrators (or an ancestor's) read and
/// change its access list. Every field is checked and, on any error, nothing is saved. A group's members must exist when it is saved
/// (within one import, they may be in the same import, in any order); a membership that would
/// make a group contain itself is refused, naming the cycle. Access entries need an existing scope
/// and principal.
/// </summary>
public sealed partial class DirectoryService(IDirectoryStore store, ISettingsStore settings, DirectoryCache cache, TimeProvider time)
{
    public const string DefaultTimeZone = "UTC";
    public const string DefaultLanguage = "en";
    public const int MaxNameLength = 200;

    /// <summary>Members of one group: a team of 100,000 must fit, an unbounded list must not.</summary>
    public const int MaxMembers = 250_000;

    public const int MaxImportItems = 250_000;

    /// <summary>Every user, by id, for any administrator (to pick recipients and principals).</summary>
    public async Task<Result<IReadOnlyList<DirectoryUser>>> ListUsersAsync(Caller caller, CancellationToken cancellationToken) =>
        RefuseRead(caller) ?? Result.Of(await store.ListUsersAsync(cancellationToken).ConfigureAwait(false));

    public async Task<Result<DirectoryUser>> FindUserAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        if (RefuseRead(caller) is { } refusal)
        {
            return refusal;
        }

        return DirectoryIds.TryCheck(id, out _) && await store.FindUserAsync(id!, cancellationToken).ConfigureAwait(false) is { } user ? user : NoUser(id);
    }

    /// <summary>Every group with its direct members, by id, for any administrator.</summary>
    public async Task<Result<IReadOnlyList<DirectoryGroup>>> ListGroupsAsync(Caller caller, CancellationToken cancellationToken) =>
        RefuseRead(caller) ?? Result.Of(await store.ListGroupsAsync(cancellationToken).ConfigureAwait(false));

    public async Task<Result<DirectoryGroup>> FindGroupAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        if (RefuseRead(caller) is { } refusal)
        {
            return refusal;
        }

        return DirectoryIds.TryCheck(id, out _) && await store.FindGroupAsync(id!, cancellationToken).ConfigureAwait(false) is { } group ? group : NoGroup(id);
    }

    /// <summary>Every user the group reaches through nested groups, each once, as this node's view
    /// has it (current at once after a change made here, within seconds after one elsewhere).</summary>
    public async Task<Result<IReadOnlyList<DirectoryUser>>> ExpandGroupAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        if (RefuseRead(caller) is { } refusal)
        {
            return refusal;
        }

        var view = await cache.GetViewAsync(cancellationToken).ConfigureAwait(false);
        return DirectoryIds.TryCheck(id, out _) && view.FindGroup(id!) is not null ? Result.Of(view.MembersOf(id!)) : NoGroup(id);
    }

    /// <summary>Adds or changes a user (as <paramref name="mode"/> allows); administrators of / only.</summary>
    public async Task<Result<Saved<DirectoryUser>>> SaveUserAsync(Caller caller, UserUpdate update, SaveMode mode, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        if (RefuseChange(caller) is { } refusal)
        {
            return refusal;
        }

        if (!DirectoryIds.TryCheck(update.Id, out var idError))
        {
            // Every field's problem at once: the others are checked as for a new user.
            var all = new List<FieldError> { new("id", idError) };
            ApplyUser(null, update, "", all);
            return Refusal.Invalid(all, "The user is not valid; nothing was saved.");
        }

        var existing = await store.FindUserAsync(update.Id!, cancellationToken).ConfigureAwait(false);
        if (CheckMode("User", update.Id!, existing is not null, mode) is { } wrongMode)
        {
            return wrongMode;
        }

        if (RefuseSynced(existing) is { } synced)
        {
            return synced;
        }

        var errors = new List<FieldError>();
        if (ApplyUser(existing, update, "", errors) is not { } user)
        {
            return Refusal.Invalid(errors, "The user is not valid; nothing was saved.");
        }

        var created = await store.SaveUserAsync(user, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return new Saved<DirectoryUser>(user, created);
    }

    /// <summary>Removes a user with their memberships and access entries; administrators of / only.</summary>
    public async Task<Refusal?> RemoveUserAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        if (RefuseChange(caller) is { } refusal)
        {
            return refusal;
        }

        if (!DirectoryIds.TryCheck(id, out _) || await store.FindUserAsync(id!, cancellationToken).ConfigureAwait(false) is not { } user)
        {
            return NoUser(id);
        }

        if (RefuseSynced(user) is { } synced)
        {
            return synced;
        }

        if (!await store.RemoveUserAsync(user.Id, cancellationToken).ConfigureAwait(false))
        {
            return NoUser(id);
        }

        cache.Invalidate();
        return null;
    }

    /// <summary>Adds or changes a group (as <paramref name="mode"/> allows); its new members must
    /// exist and make no cycle, checked inside the write. The caller administers the scope the
    /// group belongs to, and the one it moves to.</summary>
    public async Task<Result<Saved<DirectoryGroup>>> SaveGroupAsync(Caller caller, GroupUpdate update, SaveMode mode, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        if (RefuseRead(caller) is { } refusal)
        {
            return refusal;
        }

        if (!DirectoryIds.TryCheck(update.Id, out var idError))
        {
            return Refusal.Invalid("id", idError);
        }

        var existing = await store.FindGroupAsync(update.Id!, cancellationToken).ConfigureAwait(false);
        if (CheckMode("Group", update.Id!, existing is not null, mode) is { } wrongMode)
        {
            return wrongMode;
        }

        if (existing is not null && (RefuseGroupChange(caller, existing.Id, existing.Scope) ?? RefuseSynced(existing)) is { } notTheirs)
        {
            return notTheirs;
        }

        var errors = new List<FieldError>();
        if (ApplyGroup(existing, update, "", errors) is not { } group)
        {
            return Refusal.Invalid(errors, GroupRefused);
        }

        if (group.Scope != existing?.Scope)
        {
            if (RefuseGroupChange(caller, group.Id, group.Scope) is { } notTheirsToGive)
            {
                return notTheirsToGive;
            }

            if (!await settings.ScopeExistsAsync(group.Scope, cancellationToken).ConfigureAwait(false))
            {
                return Refusal.Invalid("scope", $"Scope {group.Scope} does not exist.");
            }
        }

        // Checked inside the write, which no other directory write overlaps: a concurrent save
        // cannot close a cycle with this one, nor a removal leave a member that no longer exists.
        DirectoryCheck? checkMembers = update.Members is null ? null : graph => CheckMembers(group, graph);
        var (saved, created, refused) = await store.SaveGroupAsync(group, time.GetUtcNow(), checkMembers, cancellationToken).ConfigureAwait(false);
        if (saved is null)
        {
            return Refusal.Invalid(refused, GroupRefused);
        }

        cache.Invalidate();
        return new Saved<DirectoryGroup>(saved, created);
    }

    /// <summary>Removes a group, its place in other groups and its access entries; administrators
    /// of the scope it belongs to (or an ancestor's) only.</summary>
    public async Task<Refusal?> RemoveGroupAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        if (RefuseRead(caller) is { } refusal)
        {
            return refusal;
        }

        if (!DirectoryIds.TryCheck(id, out _) || await store.FindGroupAsync(id!, cancellationToken).ConfigureAwait(false) is not { } group)
        {
            return NoGroup(id);
        }

        if ((RefuseGroupChange(caller, group.Id, group.Scope) ?? RefuseSynced(group)) is { } notTheirs)
        {
            return notTheirs;
        }

        if (!await store.RemoveGroupAsync(group.Id, cancellationToken).ConfigureAwait(false))
        {
            return NoGroup(id);
        }

        cache.Invalidate();
        return null;
    }

    /// <summary>Checks every item, then saves them all in one transaction, or nothing. Each error is
    /// named by the item's place (<c>users[3].email</c>, <c>line 7.members</c>).</summary>
    /// <remarks>The file is read (<paramref name="read"/>) only once the caller may import: a
    /// request of 64 MiB is not read for a caller that would be refused.</remarks>
    public async Task<Result<ImportReport>> ImportAsync(Caller caller, Func<CancellationToken, Task<DirectoryImport>> read, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(read);
        if (RefuseChange(caller) is { } refusal)
        {
            return refusal;
        }

        var import = await read(cancellationToken).ConfigureAwait(false);
        var errors = new List<FieldError>(import.Errors);
        if (import.Users.Count + import.Groups.Count > MaxImportItems)
        {
            errors.Add(new("import", $"An import holds at most {MaxImportItems:N0} users and groups; this one has {import.Users.Count + import.Groups.Count:N0}."));
            return Refusal.Invalid(errors, ImportRefused);
        }

        var users = new List<DirectoryUser>();
        var userPlaces = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (where, update) in import.Users)
        {
            if (!DirectoryIds.TryCheck(update.Id, out var idError))
            {
                errors.Add(new($"{where}.id", idError));
            }
            else if (!userPlaces.TryAdd(update.Id!, where))
            {
                errors.Add(new($"{where}.id", $"User '{update.Id}' appears twice in the import (also {userPlaces[update.Id!]})."));
            }
            else if (ApplyUser(null, update, $"{where}.", errors) is { } user)
            {
                users.Add(user);
            }
        }

        var groups = new List<DirectoryGroup>();
        var groupPlaces = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (where, update) in import.Groups)
        {
            if (!DirectoryIds.TryCheck(update.Id, out var idError))
            {
                errors.Add(new($"{where}.id", idError));
            }
            else if (!groupPlaces.TryAdd(update.Id!, where))
            {
                errors.Add(new($"{where}.id", $"Group '{update.Id}' appears twice in the import (also {groupPlaces[update.Id!]})."));
            }
            else if (ApplyGroup(null, update with { Members = update.Members ?? [] }, $"{where}.", errors) is { } group)
            {
                groups.Add(group);
            }
        }

        // Members may be anywhere in the import or already stored.
        List<FieldError> MissingMembers(IReadOnlySet<Principal> stored)
        {
            var missing = new List<FieldError>();
            foreach (var group in groups)
            {
                for (var i = 0; i < group.Members.Count; i++)
                {
                    var member = group.Members[i];
                    var imported = member.Kind == PrincipalKind.User ? userPlaces.ContainsKey(member.Id) : groupPlaces.ContainsKey(member.Id);
                    if (!imported && !stored.Contains(member))
                    {
                        missing.Add(new($"{groupPlaces[group.Id]}.members[{i}]", Missing(member) + " It is neither stored nor in the import."));
                    }
                }
            }

            return missing;
        }

        if (errors.Count > 0)
        {
            // Nothing will be written: the members are looked up only to list every problem at once.
            errors.AddRange(MissingMembers(await store.FindExistingAsync(groups.SelectMany(g => g.Members).ToHashSet(), cancellationToken).ConfigureAwait(false)));
            return Refusal.Invalid(errors, ImportRefused);
        }

        var usersAdded = 0;
        var groupsAdded = 0;
        IReadOnlyList<FieldError> CheckImport(DirectoryGraph graph)
        {
            var problems = MissingMembers(graph.Existing);
            foreach (var (principal, source) in graph.Synced)
            {
                var place = principal.Kind == PrincipalKind.User ? userPlaces.GetValueOrDefault(principal.Id) : groupPlaces.GetValueOrDefault(principal.Id);
                if (place is not null)
                {
                    problems.Add(new($"{place}.id", SyncedSentence(principal, source)));
                }
            }

            if (problems.Count == 0 && groups.Count > 0 && FindCycle(graph.Nested, groups) is { } cycle)
            {
                problems.Add(new($"{groupPlaces.GetValueOrDefault(cycle[0], "groups")}.members", CycleMessage(cycle)));
            }

            usersAdded = users.Count(u => !graph.Existing.Contains(Principal.User(u.Id)));
            groupsAdded = groups.Count(g => !graph.Existing.Contains(Principal.Group(g.Id)));
            return problems;
        }

        // Checked inside the import's write, which no other directory write overlaps.
        var refused = await store.ImportAsync(users, groups, time.GetUtcNow(), CheckImport, cancellationToken).ConfigureAwait(false);
        if (refused.Count > 0)
        {
            return Refusal.Invalid(refused, ImportRefused);
        }

        cache.Invalidate();
        return new ImportReport(usersAdded, users.Count - usersAdded, groupsAdded, groups.Count - groupsAdded);
    }

    /// <summary>Grants a user or group a level on a scope (and so on every scope below it); a
    /// second grant to the same principal on the same scope changes its level. Administrators of
    /// the scope (or an ancestor) only.</summary>
    public async Task<Result<Saved<AccessEntry>>> GrantAsync(Caller caller, string? scope, string? principal, string? level, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<FieldError>();
        var (path, who) = ParseTarget(scope, principal, errors);
        if (!AccessLevelNames.Values.TryParse(level, out var levelError, out var granted))
        {
            errors.Add(new("level", $"Level {levelError}"));
        }

        if (errors.Any(e => e.Field == "scope"))
        {
            return Refusal.Invalid(errors, AccessRefused);
        }

        if (RefuseAccessChange(caller, path) is { } refusal)
        {
            return refusal;
        }

        // Every problem at once, once the caller may change the list: an unknown principal along
        // with a bad level (a field that did not parse is not looked up).
        await CheckTargetExistsAsync(path, who, errors, cancellationToken).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, AccessRefused);
        }

        // The principal is looked up again inside the write: a removal on another node in
        // between must not leave an entry for someone who no longer exists. (A scope removed in
        // between takes its entries with it: access_entries references scopes.)
        var entry = new AccessEntry(path, who, granted);
        var (created, refused) = await store.GrantAsync(
            entry, graph => graph.Existing.Contains(who) ? [] : [new("principal", Missing(who))], cancellationToken).ConfigureAwait(false);
        if (refused.Count > 0)
        {
            return Refusal.Invalid(refused, AccessRefused);
        }

        cache.Invalidate();
        return new Saved<AccessEntry>(entry, created);
    }

    /// <summary>Removes a principal's own entry from a scope's access list (entries on other scopes
    /// stay). Administrators of the scope (or an ancestor) only.</summary>
    public async Task<Refusal?> RevokeAsync(Caller caller, string? scope, string? principal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<FieldError>();
        var (path, who) = ParseTarget(scope, principal, errors);
        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, "The access entry is not valid; nothing was changed.");
        }

        if (RefuseAccessChange(caller, path) is { } refusal)
        {
            return refusal;
        }

        if (!await store.RevokeAsync(path, who, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.NotFound($"Scope {path} has no entry of its own for {who}.");
        }

        cache.Invalidate();
        return null;
    }

    /// <summary>The scope's own entries and what applies there, with where each level comes from;
    /// for administrators of the scope (or an ancestor).</summary>
    public async Task<Result<ScopeAccess>> DescribeAccessAsync(Caller caller, string? scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!ScopePath.TryParse(scope, out var path, out var scopeError))
        {
            return Refusal.Invalid("scope", scopeError);
        }

        if (!caller.Administers(path))
        {
            return Refusal.NotAllowed($"{caller.Description} may not read the access list of scope {path}: it is not an administrator of it.");
        }

        if (!await settings.ScopeExistsAsync(path, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.NotFound(ScopeService.Missing(path).Message);
        }

        var chain = path.SelfAndAncestors().ToArray();
        var entries = await store.ListAccessAsync(chain, cancellationToken).ConfigureAwait(false);
        var effective = new Dictionary<Principal, EffectiveAccess>();
        // Nearest scope first: an ancestor's entry wins only when it grants more.
        foreach (var level in chain)
        {
            foreach (var entry in entries.Where(e => e.Scope == level))
            {
                if (!effective.TryGetValue(entry.Principal, out var known) || entry.Level > known.Level)
                {
                    effective[entry.Principal] = new EffectiveAccess(entry.Principal, entry.Level, level);
                }
            }
        }

        return new ScopeAccess(
            path,
            entries.Where(e => e.Scope == path).ToArray(),
            effective.Values.OrderBy(e => e.Principal.Kind).ThenBy(e => e.Principal.Id, StringComparer.Ordinal).ToArray());
    }

    /// <summary>The user after the update, with every problem found by field (pure).</summary>
    public static DirectoryUser? ApplyUser(DirectoryUser? existing, UserUpdate update, string prefix, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(errors);
        var before = errors.Count;
        var name = existing?.Name;
        if (update.Name is not null || existing is null)
        {
            name = CheckName(update.Name, $"{prefix}name", errors);
        }

        var email = existing?.Email;
        if (update.Email is not null || existing is null)
        {
            if (EmailAddress.TryParse(update.Email, out var address, out var emailError))
            {
                email = address;
            }
            else
            {
                errors.Add(new($"{prefix}email", emailError));
            }
        }

        var timeZone = existing?.TimeZone ?? DefaultTimeZone;
        if (!string.IsNullOrWhiteSpace(update.TimeZone))
        {
            timeZone = CheckTimeZone(update.TimeZone.Trim(), $"{prefix}timeZone", errors) ?? timeZone;
        }

        var language = existing?.Language ?? DefaultLanguage;
        if (!string.IsNullOrWhiteSpace(update.Language))
        {
            language = CheckLanguage(update.Language.Trim(), $"{prefix}language", errors) ?? language;
        }

        return errors.Count > before ? null : new DirectoryUser(update.Id!, name!, email!, timeZone, language);
    }

    /// <summary>The group after the update, with every problem found by field (pure: whether the
    /// members exist is checked by the caller).</summary>
    public static DirectoryGroup? ApplyGroup(DirectoryGroup? existing, GroupUpdate update, string prefix, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(errors);
        var before = errors.Count;
        var name = existing?.Name;
        if (update.Name is not null || existing is null)
        {
            name = CheckName(update.Name, $"{prefix}name", errors);
        }

        var alias = existing?.Alias;
        if (update.Alias is not null)
        {
            if (update.Alias.Trim().Length == 0)
            {
                alias = null;
            }
            else if (EmailAddress.TryParse(update.Alias, out var address, out var aliasError))
            {
                alias = address;
            }
            else
            {
                errors.Add(new($"{prefix}alias", aliasError));
            }
        }

        var scope = existing?.Scope ?? ScopePath.Root;
        if (update.Scope is not null)
        {
            if (ScopePath.TryParse(update.Scope, out var parsedScope, out var scopeError))
            {
                scope = parsedScope;
            }
            else
            {
                errors.Add(new($"{prefix}scope", scopeError));
            }
        }

        var delivery = existing?.Delivery ?? GroupDelivery.Members;
        if (!string.IsNullOrWhiteSpace(update.Delivery))
        {
            if (GroupDeliveryNames.Values.TryParse(update.Delivery, out var deliveryError, out var parsed))
            {
                delivery = parsed;
            }
            else
            {
                errors.Add(new($"{prefix}delivery", $"Delivery {deliveryError}"));
            }
        }

        if (delivery != GroupDelivery.Members && alias is null && errors.Count == before)
        {
            errors.Add(new($"{prefix}alias", $"Delivery '{GroupDeliveryNames.Values.NameOf(delivery)}' needs an alias address: give one, or deliver to members."));
        }

        var members = existing?.Members ?? [];
        if (update.Members is { } texts)
        {
            if (texts.Count > MaxMembers)
            {
                errors.Add(new($"{prefix}members", $"A group has at most {MaxMembers:N0} direct members; nest groups for more."));
            }
            else
            {
                var list = new List<Principal>(texts.Count);
                var seen = new HashSet<Principal>();
                for (var i = 0; i < texts.Count; i++)
                {
                    if (!Principal.TryParse(texts[i], out var member, out var memberError))
                    {
                        errors.Add(new($"{prefix}members[{i}]", memberError));
                    }
                    else if (seen.Add(member))
                    {
                        list.Add(member);
                    }
                }

                members = list;
            }
        }

        return errors.Count > before ? null : new DirectoryGroup(update.Id!, name!, alias, delivery, members) { Scope = scope };
    }

    /// <summary>A cycle through the changed groups in the graph of stored nesting with their new
    /// member lists: the group ids along it, first repeated at the end; null for none.</summary>
    public static IReadOnlyList<string>? FindCycle(IReadOnlyList<(string GroupId, string MemberGroupId)> stored, IReadOnlyList<DirectoryGroup> changed)
    {
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(changed);
        var edges = stored.GroupBy(e => e.GroupId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(e => e.MemberGroupId).ToList(), StringComparer.Ordinal);
        foreach (var group in changed)
        {
            edges[group.Id] = group.Members.Where(m => m.Kind == PrincipalKind.Group).Select(m => m.Id).ToList();
        }

        // Depth first from each changed group; a group still on the path met again closes a cycle.
        var done = new HashSet<string>(StringComparer.Ordinal);
        foreach (var start in changed.Select(g => g.Id))
        {
            if (done.Contains(start))
            {
                continue;
            }

            var path = new List<string> { start };
            var onPath = new HashSet<string>(StringComparer.Ordinal) { start };
            var next = new Stack<int>();
            next.Push(0);
            while (path.Count > 0)
            {
                var current = path[^1];
                var index = next.Pop();
                var children = edges.GetValueOrDefault(current) ?? [];
                if (index >= children.Count)
                {
                    done.Add(current);
                    onPath.Remove(current);
                    path.RemoveAt(path.Count - 1);
                    continue;
                }

                next.Push(index + 1);
                var child = children[index];
                if (onPath.Contains(child))
                {
                    return [.. path.Skip(path.IndexOf(child)), child];
                }

                if (!done.Contains(child))
                {
                    path.Add(child);
                    onPath.Add(child);
                    next.Push(0);
                }
            }
        }

        return null;
    }

    /// <summary>A group's new members against the directory as the save will find it: each must
    /// exist, and none may make the group contain itself.</summary>
    private static List<FieldError> CheckMembers(DirectoryGroup group, DirectoryGraph graph)
    {
        var errors = new List<FieldError>();
        for (var i = 0; i < group.Members.Count; i++)
        {
            if (!graph.Existing.Contains(group.Members[i]))
            {
                errors.Add(new($"members[{i}]", Missing(group.Members[i])));
            }
        }

        if (errors.Count == 0 && FindCycle(graph.Nested, [group]) is { } cycle)
        {
            errors.Add(new("members", CycleMessage(cycle)));
        }

        return errors;
    }

    private const string ImportRefused = "The import has errors; nothing was saved.";

    private const string GroupRefused = "The group is not valid; nothing was saved.";

    private const string AccessRefused = "The access entry is not valid; nothing was saved.";

    /// <summary>The directory is read by any administrator: a scope's administrator picks users and
    /// groups from it for access lists, rules and subscriptions.</summary>
    private static Refusal? RefuseRead(Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return caller.IsAdministrator ? null : Refusal.NotAllowed($"{caller.Description} may not read the directory of users and groups: that takes an administrator.");
    }

    /// <summary>Users are one directory for every scope: only administrators of / add, change,
    /// import or remove them (an import may hold groups too). Null when the caller may; the console
    /// asks before it shows a form for a change.</summary>
    public static Refusal? RefuseChange(Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return caller.AdministersRoot
            ? null
            : Refusal.NotAllowed($"{caller.Description} may not change the directory's users or import: users are shared by every scope, so only administrators of / add, change, import or remove them.");
    }

    /// <summary>A group is changed by the administrators of the scope it belongs to, and of the
    /// scopes above. Null when the caller may; the console asks before it shows a form.</summary>
    public static Refusal? RefuseGroupChange(Caller caller, string id, ScopePath scope)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return caller.Administers(scope)
            ? null
            : Refusal.NotAllowed($"{caller.Description} may not change group '{id}' of scope {scope}: only administrators of {scope} or a scope above it do.");
    }

    /// <summary>A user or group synced from a directory source is that source's to change: the
    /// sync would undo a change made here. Null for a local one; the console asks before it offers an edit.</summary>
    public static Refusal? RefuseSynced(DirectoryUser? user) =>
        user?.Source is { } source ? Refusal.Conflict(new FieldError("id", SyncedSentence(Principal.User(user.Id), source))) : null;

    public static Refusal? RefuseSynced(DirectoryGroup? group) =>
        group?.Source is { } source ? Refusal.Conflict(new FieldError("id", SyncedSentence(Principal.Group(group.Id), source))) : null;

    private static string SyncedSentence(Principal principal, string source) =>
        $"{(principal.Kind == PrincipalKind.User ? "User" : "Group")} '{principal.Id}' is synced from directory source '{source}' and read-only here: change it in the directory, and the next sync brings the change.";

    private static Refusal? RefuseAccessChange(Caller caller, ScopePath scope) =>
        caller.Administers(scope) ? null : Refusal.NotAllowed($"{caller.Description} may not change the access list of scope {scope}: it is not an administrator of it.");

    /// <summary>Whether an add or a change may go ahead on an id that is (or is not) in use.</summary>
    private static Refusal? CheckMode(string kind, string id, bool exists, SaveMode mode) => (mode, exists) switch
    {
        (SaveMode.Add, true) => Refusal.Conflict(new FieldError("id", $"{kind} '{id}' exists already: change it instead, or pick another id.")),
        (SaveMode.Change, false) => Refusal.NotFound($"There is no {kind.ToLowerInvariant()} '{id}'."),
        _ => null,
    };

    private static Refusal NoUser(string? id) => Refusal.NotFound($"There is no user '{DirectoryIds.Printable(id)}'.");

    private static Refusal NoGroup(string? id) => Refusal.NotFound($"There is no group '{DirectoryIds.Printable(id)}'.");

    private static string CycleMessage(IReadOnlyList<string> cycle) =>
        $"This membership would make a cycle: {string.Join(" → ", cycle.Select(id => $"group:{id}"))}. A group cannot contain itself, directly or through other groups.";

    private static string Missing(Principal member) =>
        $"{(member.Kind == PrincipalKind.User ? "User" : "Group")} '{member.Id}' does not exist.";

    private static (ScopePath Scope, Principal Principal) ParseTarget(string? scope, string? principal, List<FieldError> errors)
    {
        if (!ScopePath.TryParse(scope, out var path, out var scopeError))
        {
            errors.Add(new("scope", scopeError));
        }

        if (!Principal.TryParse(principal, out var who, out var principalError))
        {
            errors.Add(new("principal", principalError));
        }

        return (path, who);
    }

    private async Task CheckTargetExistsAsync(ScopePath scope, Principal principal, List<FieldError> errors, CancellationToken cancellationToken)
    {
        // A field that did not parse is already reported (and its value is the default).
        if (!errors.Any(e => e.Field == "scope") && !await settings.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            errors.Add(ScopeService.Missing(scope));
        }

        if (!errors.Any(e => e.Field == "principal") && !(await store.FindExistingAsync([principal], cancellationToken).ConfigureAwait(false)).Contains(principal))
        {
            errors.Add(new("principal", Missing(principal)));
        }
    }

    private static string? CheckName(string? text, string field, List<FieldError> errors)
    {
        var name = text?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || name.Any(char.IsControl))
        {
            errors.Add(new(field, $"A name is required: 1 to {MaxNameLength} characters on one line."));
            return null;
        }

        return name;
    }

    /// <summary>An IANA time zone the machine knows (Europe/Berlin), as its canonical id.</summary>
    private static string? CheckTimeZone(string text, string field, List<FieldError> errors)
    {
        if (text.Length <= 64 && TimeZoneInfo.TryFindSystemTimeZoneById(text, out var zone) && zone.HasIanaId)
        {
            return zone.Id;
        }

        errors.Add(new(field, $"'{Printable(text)}' is not a time zone this machine knows: use an IANA id such as Europe/Berlin, America/New_York or UTC."));
        return null;
    }

    /// <summary>A BCP 47 language tag (en, de-CH, zh-Hant-TW), in its conventional case.</summary>
    private static string? CheckLanguage(string text, string field, List<FieldError> errors)
    {
        if (text.Length > 35 || !LanguageTag().IsMatch(text))
        {
            errors.Add(new(field, $"'{Printable(text)}' is not a BCP 47 language tag such as en, de-CH or zh-Hant-TW."));
            return null;
        }

        var parts = text.Split('-');
        var singleton = false;
        for (var i = 0; i < parts.Length; i++)
        {
            singleton |= parts[i].Length == 1;
            parts[i] = i == 0 || singleton ? parts[i].ToLowerInvariant()
                : parts[i].Length == 4 && i == 1 && parts[i].All(char.IsAsciiLetter) ? CultureInfo.InvariantCulture.TextInfo.ToTitleCase(parts[i].ToLowerInvariant())
                : parts[i].Length == 2 ? parts[i].ToUpperInvariant()
                : parts[i].ToLowerInvariant();
        }

        return string.Join('-', parts);
    }

    private static string Printable(string text) => new([.. text.Take(64).Select(c => char.IsControl(c) ? '?' : c)]);

    // language[-script][-region](-variant)*(-extension)*[-privateuse] (RFC 5646 §2.1, without grandfathered tags).
    [GeneratedRegex(@"^(?:[A-Za-z]{2,3}|[A-Za-z]{5,8})(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(?:-[A-WY-Za-wy-z0-9](?:-[A-Za-z0-9]{2,8})+)*(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?$")]
    private static partial Regex LanguageTag();
}
