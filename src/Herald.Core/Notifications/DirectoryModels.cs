using System.Diagnostics.CodeAnalysis;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications;

/// <summary>A person notifications are for. <see cref="TimeZone"/> is an IANA id (Europe/Berlin)
/// and decides when their daily and weekly summaries go out.</summary>
public sealed record DirectoryUser(string Id, string Name, EmailAddress Email, string TimeZone, string Language)
{
    /// <summary>The directory source this user is synced from (read-only in Herald); null for a local user.</summary>
    public string? Source { get; init; }

    /// <summary>The entry's distinguished name in <see cref="Source"/>.</summary>
    public string? SourceDn { get; init; }

    /// <summary>When the sync found the user gone from the source: a disabled user receives
    /// nothing and is removed after the source's grace period.</summary>
    public DateTimeOffset? DisabledAt { get; init; }
}

/// <summary>Where a group's notifications go: to every member, to the group's alias address, or both.</summary>
public enum GroupDelivery
{
    Members,
    Alias,
    Both,
}

public static class GroupDeliveryNames
{
    public static readonly NamedValues<GroupDelivery> Values = new(
        (GroupDelivery.Members, "members"), (GroupDelivery.Alias, "alias"), (GroupDelivery.Both, "both"));
}

/// <summary>A group of users and other groups, with an optional alias address. It belongs to
/// <see cref="Scope"/>, whose administrators (and those of the scopes above) change it; the
/// directory's own groups belong to <c>/</c>.</summary>
public sealed record DirectoryGroup(string Id, string Name, EmailAddress? Alias, GroupDelivery Delivery, IReadOnlyList<Principal> Members)
{
    public ScopePath Scope { get; init; } = ScopePath.Root;

    /// <summary>The directory source this group is synced from (read-only in Herald); null for a local group.</summary>
    public string? Source { get; init; }

    /// <summary>The entry's distinguished name in <see cref="Source"/>.</summary>
    public string? SourceDn { get; init; }
}

public enum PrincipalKind
{
    User,
    Group,
}

/// <summary>A user or a group, written <c>user:alice</c> or <c>group:payroll-team</c>.</summary>
public readonly record struct Principal(PrincipalKind Kind, string Id)
{
    public static Principal User(string id) => new(PrincipalKind.User, id);

    public static Principal Group(string id) => new(PrincipalKind.Group, id);

    public override string ToString() => $"{(Kind == PrincipalKind.User ? "user" : "group")}:{Id}";

    public static bool TryParse(string? text, out Principal principal, [NotNullWhen(false)] out string? error)
    {
        principal = default;
        var colon = text?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        var kind = colon > 0 ? text![..colon] : "";
        var id = colon > 0 ? text![(colon + 1)..] : "";
        if (kind is not ("user" or "group") || !DirectoryIds.TryCheck(id, out error))
        {
            error = $"'{DirectoryIds.Printable(text)}' is not a principal: write user:<id> or group:<id>.";
            return false;
        }

        principal = new Principal(kind == "user" ? PrincipalKind.User : PrincipalKind.Group, id);
        error = null;
        return true;
    }
}

/// <summary>Ids of users, groups, subscriptions and rules: 1 to 100 characters of ASCII letters,
/// digits and <c>. _ - @</c>, chosen by whoever creates them (often the id in their own system).
/// An id is one exact name everywhere: compared ordinally (case counts: <c>Alice</c> is not
/// <c>alice</c>), never trimmed, case-folded or matched with wildcards; anything else is refused.</summary>
public static class DirectoryIds
{
    public const int MaxLength = 100;

    public static bool TryCheck(string? id, [NotNullWhen(false)] out string? error)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxLength || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@'))
        {
            error = $"'{Printable(id)}' is not a valid id: use 1 to {MaxLength} letters, digits, '.', '_', '-' or '@' (ids are compared exactly: case counts, and white space is refused, never trimmed).";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Text a caller gave, safe to quote in a sentence on any door (a terminal too):
    /// control and formatting characters as '?', at most 100 characters.</summary>
    public static string Printable(string? text) =>
        text is null ? "" : new string([.. text.Take(MaxLength).Select(c => char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format ? '?' : c)])
            + (text.Length > MaxLength ? "…" : "");
}

/// <summary>What an access-list entry grants on a scope and every scope below it; each level
/// includes the ones before it.</summary>
public enum AccessLevel
{
    View = 1,
    Edit = 2,
    Admin = 3,
}

public static class AccessLevelNames
{
    public static readonly NamedValues<AccessLevel> Values = new((AccessLevel.View, "view"), (AccessLevel.Edit, "edit"), (AccessLevel.Admin, "admin"));
}

/// <summary>One line of a scope's access list.</summary>
public sealed record AccessEntry(ScopePath Scope, Principal Principal, AccessLevel Level);

/// <summary>The directory and access lists as one consistent, in-memory picture, cheap to query
/// for every event and every recipient of a fan-out.</summary>
public interface IDirectoryView
{
    DirectoryUser? FindUser(string id);

    /// <summary>The user whose email this is (case-insensitive), to recognise an event's actor.</summary>
    DirectoryUser? FindUserByEmail(string email);

    DirectoryGroup? FindGroup(string id);

    /// <summary>Every user reached through the group and its nested groups, each once, in a
    /// stable order; a group met twice (or a cycle) is followed once.</summary>
    IReadOnlyList<DirectoryUser> MembersOf(string groupId);

    /// <summary>The strongest permission the user holds on the scope: from entries on the scope
    /// or any ancestor, for the user or any group that contains them (nested); null for none.</summary>
    AccessLevel? AccessOf(string userId, ScopePath scope);

    /// <summary>The strongest permission a group itself holds on the scope (entries for it or a
    /// group containing it, inherited the same way); null for none. Decides whether a group's
    /// alias may receive what the scope's events say.</summary>
    AccessLevel? GroupAccessOf(string groupId, ScopePath scope);

    /// <summary>Users with Admin on the scope (inherited): who receives administrative messages.</summary>
    IReadOnlyList<DirectoryUser> AdministratorsOf(ScopePath scope);
}

/// <summary>The current directory view: reloaded when the directory changes on any node (within
/// a few seconds on other nodes, at once on this one).</summary>
public interface IDirectory
{
    ValueTask<IDirectoryView> CurrentAsync(CancellationToken cancellationToken);
}
