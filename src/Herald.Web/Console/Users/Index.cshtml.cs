using Herald.Notifications;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Users;

/// <summary>The directory's users, searched by id, name or email. Every administrator reads it (to
/// pick principals for access lists, rules and subscriptions); only administrators of <c>/</c> change it.</summary>
public sealed class IndexModel(DirectoryService service, DirectoryCache directory) : ConsolePage
{
    /// <summary>Rows shown at once: a directory of 100,000 users is searched, not scrolled.</summary>
    public const int PageSize = 200;

    public IReadOnlyList<DirectoryUser> Users { get; private set; } = [];

    public int Total { get; private set; }

    public int Matching { get; private set; }

    public string Query { get; private set; } = "";

    public DirectoryView View { get; private set; } = DirectoryView.Empty;

    /// <summary>Whether to offer Add and Import: <see cref="DirectoryService"/> says who may.</summary>
    public bool MayChange => DirectoryService.RefuseChange(Caller) is null;

    /// <summary>Whether to offer Edit for a user: not for one synced from a directory source.</summary>
    public bool MayEdit(DirectoryUser user) => MayChange && DirectoryService.RefuseSynced(user) is null;

    public async Task<IActionResult> OnGetAsync(string? q)
    {
        Query = (q ?? "").Trim();
        if (Query.Length > 200)
        {
            Query = Query[..200];
        }

        var listed = await service.ListUsersAsync(Caller, HttpContext.RequestAborted);
        if (listed.Value is not { } all)
        {
            return Refused(listed.Refusal!, Page);
        }

        View = await directory.GetViewAsync(HttpContext.RequestAborted);
        Total = all.Count;
        var matching = Query.Length == 0 ? all : all.Where(Matches).ToArray();
        Matching = matching.Count;
        Users = matching.Take(PageSize).ToArray();
        return Page();
    }

    private bool Matches(DirectoryUser user) =>
        user.Id.Contains(Query, StringComparison.OrdinalIgnoreCase)
        || user.Name.Contains(Query, StringComparison.OrdinalIgnoreCase)
        || user.Email.Value.Contains(Query, StringComparison.OrdinalIgnoreCase);
}
