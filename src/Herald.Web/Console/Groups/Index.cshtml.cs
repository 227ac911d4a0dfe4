using Herald.Notifications;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Groups;

/// <summary>Every group with its alias, delivery and how many people it reaches through nested groups.</summary>
public sealed class IndexModel(DirectoryService service, DirectoryCache directory) : ConsolePage
{
    public IReadOnlyList<DirectoryGroup> Groups { get; private set; } = [];

    public DirectoryView View { get; private set; } = DirectoryView.Empty;

    /// <summary>Whether to offer Add: every administrator may add a group to a scope it administers.</summary>
    public bool MayAdd => Caller.IsAdministrator;

    /// <summary>Whether to offer Edit for a group: <see cref="DirectoryService"/> says who may.</summary>
    public bool MayChange(DirectoryGroup group) => (DirectoryService.RefuseGroupChange(Caller, group.Id, group.Scope) ?? DirectoryService.RefuseSynced(group)) is null;

    public async Task<IActionResult> OnGetAsync()
    {
        var listed = await service.ListGroupsAsync(Caller, HttpContext.RequestAborted);
        if (listed.Value is not { } groups)
        {
            return Refused(listed.Refusal!, Page);
        }

        Groups = groups;
        View = await directory.GetViewAsync(HttpContext.RequestAborted);
        return Page();
    }
}
