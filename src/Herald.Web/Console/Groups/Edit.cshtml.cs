using Herald.Notifications;
using Herald.Scopes;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Groups;

/// <summary>Add or change one group: name, alias, where its notifications go, and its members
/// (users and groups, picked from the directory). A membership that would make a cycle is refused
/// next to the members, naming the cycle. <see cref="DirectoryService"/> decides: administrators
/// of the scope the group belongs to, or of a scope above.</summary>
// Up to PickerLimit ticked boxes, or a typed list of a large group's members.
[RequestSizeLimit(16 * 1024 * 1024)]
[RequestFormLimits(MultipartBodyLengthLimit = 16 * 1024 * 1024, ValueLengthLimit = 16 * 1024 * 1024, ValueCountLimit = PickerLimit + 100)]
public sealed class EditModel(DirectoryService service, DirectoryCache directory, ScopeService scopes) : ConsolePage
{
    /// <summary>Above this many users and groups the picker becomes a list to type: a page of
    /// 100,000 check boxes helps nobody.</summary>
    public const int PickerLimit = 1000;

    private static readonly char[] MemberSeparators = ['\n', '\r', ',', ' ', '\t'];

    public bool IsNew { get; private set; } = true;

    public string Id { get; private set; } = "";

    public string Name { get; private set; } = "";

    public string Scope { get; private set; } = "/";

    /// <summary>The scopes a group of this caller's may belong to: those it administers.</summary>
    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public string Alias { get; private set; } = "";

    public string Delivery { get; private set; } = "members";

    public HashSet<string> Members { get; private set; } = new(StringComparer.Ordinal);

    public IReadOnlyList<DirectoryUser> AllUsers { get; private set; } = [];

    public IReadOnlyList<DirectoryGroup> AllGroups { get; private set; } = [];

    public bool UsesPicker => AllUsers.Count + AllGroups.Count <= PickerLimit;

    /// <summary>Everyone the saved group reaches through nested groups.</summary>
    public int Reaches { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? id)
    {
        if (id is not null)
        {
            var found = await service.FindGroupAsync(Caller, id, HttpContext.RequestAborted);
            if (found.Value is not { } group)
            {
                return Refused(found.Refusal!, Page);
            }

            if ((DirectoryService.RefuseGroupChange(Caller, group.Id, group.Scope) ?? DirectoryService.RefuseSynced(group)) is { } refusal)
            {
                return Refused(refusal, Page);
            }

            IsNew = false;
            (Id, Name, Scope, Alias, Delivery) = (group.Id, group.Name, group.Scope.Value, group.Alias?.Value ?? "", GroupDeliveryNames.Values.NameOf(group.Delivery));
            Members = group.Members.Select(m => m.ToString()).ToHashSet(StringComparer.Ordinal);
        }

        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostSaveAsync(
        [FromQuery(Name = "id")] string? existing, string? id, string? name, string? scope, string? alias, string? delivery, string[]? members, string? memberList)
    {
        IsNew = existing is null;
        (Id, Name, Scope, Alias, Delivery) = (existing ?? id ?? "", name ?? "", scope ?? "/", alias ?? "", delivery ?? "members");
        var chosen = (members ?? [])
            .Concat((memberList ?? "").Split(MemberSeparators, StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.Ordinal)
            .ToArray();
        Members = chosen.ToHashSet(StringComparer.Ordinal);
        var saved = await service.SaveGroupAsync(
            Caller, new GroupUpdate(Id) { Name = Name, Scope = scope, Alias = Alias, Delivery = Delivery, Members = chosen }, IsNew ? SaveMode.Add : SaveMode.Change,
            HttpContext.RequestAborted);
        if (saved.Refusal is { } refusal)
        {
            await LoadAsync();
            return Refused(refusal, Page);
        }

        var group = saved.Value!.Value;
        var reaches = (await directory.GetViewAsync(HttpContext.RequestAborted)).MembersOf(group.Id).Count;
        Notice = $"{(saved.Value.Created ? "Added" : "Saved")} group {group.Name} ({group.Id}): {group.Members.Count} direct member{(group.Members.Count == 1 ? "" : "s")}, reaching {reaches} {(reaches == 1 ? "person" : "people")}.";
        return Redirect("/groups");
    }

    public async Task<IActionResult> OnPostRemoveAsync([FromQuery(Name = "id")] string? id)
    {
        if (await service.RemoveGroupAsync(Caller, id, HttpContext.RequestAborted) is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Notice = $"Removed group {id}, its place in other groups and its access entries.";
        return Redirect("/groups");
    }

    /// <summary>Members typed in the list (not shown as check boxes), one per line.</summary>
    public string MemberListText => UsesPicker
        ? string.Join('\n', Members.Where(m => !AllUsers.Any(u => "user:" + u.Id == m) && !AllGroups.Any(g => "group:" + g.Id == m)))
        : string.Join('\n', Members);

    private async Task LoadAsync()
    {
        var ct = HttpContext.RequestAborted;
        Scopes = (await scopes.ListAsync(Caller, ct)).Where(Caller.Administers).ToArray();
        if (IsNew && !Scopes.Any(s => s.Value == Scope) && Scopes.Count > 0)
        {
            Scope = Scopes[0].Value;
        }

        AllUsers = (await service.ListUsersAsync(Caller, ct)).Value ?? [];
        AllGroups = ((await service.ListGroupsAsync(Caller, ct)).Value ?? []).Where(g => g.Id != Id).ToArray();
        if (!IsNew)
        {
            Reaches = (await directory.GetViewAsync(ct)).MembersOf(Id).Count;
        }
    }
}
