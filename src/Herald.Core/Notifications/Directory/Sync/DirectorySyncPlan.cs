using System.Globalization;

namespace Herald.Notifications.Sync;

/// <summary>What one sync of a source does to the directory: users and groups added and changed
/// (a disabled user found again is changed: enabled), users disabled (gone from the source) and
/// removed (disabled longer than the grace period), groups removed (gone from the source), and
/// entries skipped, each with why. <see cref="Stopped"/> says why nothing may be applied.</summary>
public sealed record DirectorySyncPlan(
    IReadOnlyList<DirectoryUser> AddedUsers,
    IReadOnlyList<DirectoryUser> ChangedUsers,
    IReadOnlyList<string> DisabledUsers,
    IReadOnlyList<string> RemovedUsers,
    IReadOnlyList<DirectoryGroup> AddedGroups,
    IReadOnlyList<DirectoryGroup> ChangedGroups,
    IReadOnlyList<string> RemovedGroups,
    IReadOnlyList<string> Skipped,
    string? Stopped)
{
    public bool ChangesAnything =>
        AddedUsers.Count + ChangedUsers.Count + DisabledUsers.Count + RemovedUsers.Count + AddedGroups.Count + ChangedGroups.Count + RemovedGroups.Count > 0;

    /// <summary>Every change, a line each ("add user alice (Alice <alice@example.org>)"), then
    /// every skipped entry: what a dry run lists.</summary>
    public IEnumerable<string> Lines() =>
        AddedUsers.Select(u => $"add user {u.Id} ({u.Name} <{u.Email}>)")
            .Concat(ChangedUsers.Select(u => $"change user {u.Id} ({u.Name} <{u.Email}>)"))
            .Concat(DisabledUsers.Select(id => $"disable user {id}"))
            .Concat(RemovedUsers.Select(id => $"remove user {id}"))
            .Concat(AddedGroups.Select(g => $"add group {g.Id} ({g.Members.Count} members)"))
            .Concat(ChangedGroups.Select(g => $"change group {g.Id} ({g.Members.Count} members)"))
            .Concat(RemovedGroups.Select(id => $"remove group {id}"))
            .Concat(Skipped.Select(skipped => $"skip {skipped}"));

    /// <summary>One line of counts: what a sync did, or a dry run would do.</summary>
    public string Counts =>
        $"users: {AddedUsers.Count} added, {ChangedUsers.Count} changed, {DisabledUsers.Count} disabled, {RemovedUsers.Count} removed; " +
        $"groups: {AddedGroups.Count} added, {ChangedGroups.Count} changed, {RemovedGroups.Count} removed; {Skipped.Count} entries skipped";
}

/// <summary>
/// Works out a sync from what the source holds and what Herald holds (pure: the same code plans
/// a dry run and, inside the sync's write, the real one). Only the source's own items are
/// touched: an entry whose id is a local user or group, or another source's, is skipped and said
/// so. A full read finds deletions: a user gone is disabled (they stop receiving at once), and
/// removed once disabled longer than the grace period; a group gone is removed. A delta read
/// (only entries changed since the last mark) adds and changes, and never disables or removes.
/// A plan that would disable or remove more than the source's share of its users or groups stops:
/// nothing is applied, and the sentence gives the numbers.
/// </summary>
public static class DirectorySyncPlanner
{
    public static DirectorySyncPlan Plan(
        string source, DirectorySourceSettings settings, DirectoryEntries entries, bool full, DirectorySnapshot stored, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(stored);
        var map = settings.Attributes;
        var skipped = new List<string>();
        var storedUsers = stored.Users.ToDictionary(u => u.Id, StringComparer.Ordinal);
        var storedGroups = stored.Groups.ToDictionary(g => g.Id, StringComparer.Ordinal);

        // DN → principal: this read's entries first; for a delta, the source's stored items too
        // (a changed group may name members that did not change).
        var byDn = new Dictionary<string, Principal>(StringComparer.OrdinalIgnoreCase);
        if (!full)
        {
            foreach (var user in stored.Users.Where(u => u.Source == source && u.SourceDn is not null))
            {
                byDn[NormalizeDn(user.SourceDn!)] = Principal.User(user.Id);
            }

            foreach (var group in stored.Groups.Where(g => g.Source == source && g.SourceDn is not null))
            {
                byDn[NormalizeDn(group.SourceDn!)] = Principal.Group(group.Id);
            }
        }

        var seenUsers = new HashSet<string>(StringComparer.Ordinal);
        var added = new List<DirectoryUser>();
        var changed = new List<DirectoryUser>();
        foreach (var entry in entries.Users)
        {
            if (MapUser(source, map, entry, skipped) is not { } user)
            {
                continue;
            }

            if (!seenUsers.Add(user.Id))
            {
                skipped.Add($"{entry.Dn}: user id '{user.Id}' appears twice in the source; the first entry is kept.");
                continue;
            }

            var existing = storedUsers.GetValueOrDefault(user.Id);
            if (existing is not null && existing.Source != source)
            {
                skipped.Add($"{entry.Dn}: user '{user.Id}' exists already as {Owner(existing.Source)}; it is not taken over.");
                continue;
            }

            byDn[NormalizeDn(entry.Dn)] = Principal.User(user.Id);
            // A field the source does not hold keeps Herald's value.
            user = user with
            {
                TimeZone = user.TimeZone.Length > 0 ? user.TimeZone : existing?.TimeZone ?? DirectoryService.DefaultTimeZone,
                Language = user.Language.Length > 0 ? user.Language : existing?.Language ?? DirectoryService.DefaultLanguage,
            };
            if (existing is null)
            {
                added.Add(user);
            }
            else if (existing != user)
            {
                changed.Add(user);
            }
        }

        var disabled = new List<string>();
        var removed = new List<string>();
        var ownUsers = stored.Users.Where(u => u.Source == source).ToArray();
        if (full)
        {
            var grace = TimeSpan.FromDays(settings.GraceDays);
            foreach (var user in ownUsers.Where(u => !seenUsers.Contains(u.Id)))
            {
                if (user.DisabledAt is null)
                {
                    disabled.Add(user.Id);
                }
                else if (now - user.DisabledAt.Value >= grace)
                {
                    removed.Add(user.Id);
                }
            }
        }

        var seenGroups = new HashSet<string>(StringComparer.Ordinal);
        var mapped = new List<(DirectoryEntry Entry, DirectoryGroup Group)>();
        foreach (var entry in entries.Groups)
        {
            var text = entry.First(map.GroupId);
            if (!DirectoryIds.TryCheck(text, out var idError))
            {
                skipped.Add($"{entry.Dn}: {(text is null ? $"no {map.GroupId}" : idError)}");
                continue;
            }

            var id = text!;
            if (!seenGroups.Add(id))
            {
                skipped.Add($"{entry.Dn}: group id '{id}' appears twice in the source; the first entry is kept.");
                continue;
            }

            var existing = storedGroups.GetValueOrDefault(id);
            if (existing is not null && existing.Source != source)
            {
                skipped.Add($"{entry.Dn}: group '{id}' exists already as {Owner(existing.Source)}; it is not taken over.");
                seenGroups.Remove(id);
                continue;
            }

            byDn[NormalizeDn(entry.Dn)] = Principal.Group(id);
            var name = Clean(entry.First(map.GroupName)) ?? id;
            mapped.Add((entry, new DirectoryGroup(id, name, existing?.Alias, existing?.Delivery ?? GroupDelivery.Members, [])
            {
                Scope = existing?.Scope ?? Scopes.ScopePath.Root, Source = source, SourceDn = entry.Dn,
            }));
        }

        var addedGroups = new List<DirectoryGroup>();
        var changedGroups = new List<DirectoryGroup>();
        foreach (var (entry, group) in mapped)
        {
            // Members outside the filters or the base DNs are not Herald's to know: left out.
            var members = entry.All(map.Member)
                .Select(dn => byDn.TryGetValue(NormalizeDn(dn), out var principal) ? principal : (Principal?)null)
                .OfType<Principal>()
                .Where(p => p != Principal.Group(group.Id))
                .Distinct()
                .OrderBy(p => p.Kind)
                .ThenBy(p => p.Id, StringComparer.Ordinal)
                .ToArray();
            var withMembers = group with { Members = members };
            if (storedGroups.GetValueOrDefault(group.Id) is not { } existing)
            {
                addedGroups.Add(withMembers);
            }
            else if (existing.Name != group.Name || existing.SourceDn != group.SourceDn || !existing.Members.SequenceEqual(members))
            {
                changedGroups.Add(withMembers);
            }
        }

        var ownGroups = stored.Groups.Where(g => g.Source == source).ToArray();
        var removedGroups = full ? ownGroups.Where(g => !seenGroups.Contains(g.Id)).Select(g => g.Id).ToList() : [];

        // Removals after the grace period were accepted when those users were disabled: only
        // newly disabled users count against the limit.
        var stopped = Stop(settings.RemovalLimitPercent, "users", disabled.Count, ownUsers.Count(u => u.DisabledAt is null))
            ?? Stop(settings.RemovalLimitPercent, "groups", removedGroups.Count, ownGroups.Length);
        return new DirectorySyncPlan(added, changed, disabled, removed, addedGroups, changedGroups, removedGroups, skipped, stopped);
    }

    /// <summary>The sentence of a safety stop, or null when the share is within the limit.</summary>
    private static string? Stop(int limitPercent, string what, int going, int synced)
    {
        if (going == 0 || synced == 0 || going * 100L <= limitPercent * (long)synced)
        {
            return null;
        }

        var share = (going * 100.0 / synced).ToString("0.#", CultureInfo.InvariantCulture);
        return $"Safety stop: this sync would {(what == "users" ? "disable" : "remove")} {going:N0} of the source's {synced:N0} {what} ({share}%), more than the {limitPercent}% allowed; nothing was changed. " +
            "Check the source's filters and base DNs (a filter that suddenly matches nothing looks like this), or raise its removal limit if this is meant.";
    }

    /// <summary>The user an entry describes, or null with the reason among <paramref name="skipped"/>.
    /// A time zone or language the entry lacks (or holds in a form Herald does not take) is empty:
    /// the caller keeps Herald's.</summary>
    private static DirectoryUser? MapUser(string source, DirectoryAttributes map, DirectoryEntry entry, List<string> skipped)
    {
        var id = entry.First(map.Id);
        if (!DirectoryIds.TryCheck(id, out var idError))
        {
            skipped.Add($"{entry.Dn}: {(id is null ? $"no {map.Id}" : idError)}");
            return null;
        }

        var update = new UserUpdate(id)
        {
            Name = Clean(entry.First(map.Name)) ?? id,
            Email = entry.First(map.Mail) ?? "",
            TimeZone = entry.First(map.TimeZone),
            Language = entry.First(map.Language),
        };
        var errors = new List<FieldError>();
        var user = DirectoryService.ApplyUser(null, update, "", errors);
        if (user is null && errors.All(e => e.Field is "timeZone" or "language"))
        {
            // An unknown zone or tag in the directory is not a reason to leave the person out.
            errors.Clear();
            user = DirectoryService.ApplyUser(null, update with { TimeZone = null, Language = null }, "", errors);
            update = update with { TimeZone = null, Language = null };
        }

        if (user is null)
        {
            skipped.Add($"{entry.Dn}: {string.Join(" ", errors.Select(e => $"{e.Field}: {e.Message}"))}");
            return null;
        }

        return user with
        {
            TimeZone = string.IsNullOrWhiteSpace(update.TimeZone) ? "" : user.TimeZone,
            Language = string.IsNullOrWhiteSpace(update.Language) ? "" : user.Language,
            Source = source,
            SourceDn = entry.Dn,
        };
    }

    private static string? Clean(string? text)
    {
        var trimmed = text?.Trim();
        return string.IsNullOrEmpty(trimmed) || trimmed.Length > DirectoryService.MaxNameLength || trimmed.Any(char.IsControl) ? null : trimmed;
    }

    private static string Owner(string? source) => source is null ? "a local one" : $"one synced from '{source}'";

    /// <summary>DNs as servers write them differ in case and in spaces after commas.</summary>
    public static string NormalizeDn(string dn)
    {
        ArgumentNullException.ThrowIfNull(dn);
        return string.Join(',', dn.Split(',').Select(part => part.Trim()));
    }
}
