using Herald.Notifications;
using Herald.Scopes;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.AccessLists;

/// <summary>A scope's access list: its own entries (revocable here), the entries inherited from
/// its ancestors marked with where they come from, and a form to grant View, Edit or Admin to a
/// user or group. <see cref="DirectoryService"/> decides: a scope administrator reads and changes
/// the access lists of their scopes only.</summary>
public sealed class IndexModel(DirectoryService service, ScopeService scopes, DirectoryCache directory) : ConsolePage
{
    /// <summary>Above this many principals the grant form takes a typed <c>user:id</c>.</summary>
    public const int PickerLimit = 1000;

    public ScopePath Scope { get; private set; } = ScopePath.Root;

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public ScopeAccess Access { get; private set; } = null!;

    public DirectoryView View { get; private set; } = DirectoryView.Empty;

    public IReadOnlyList<DirectoryUser> Users { get; private set; } = [];

    public IReadOnlyList<DirectoryGroup> Groups { get; private set; } = [];

    public bool UsesPicker => View.UserCount + Groups.Count <= PickerLimit;

    public string Principal { get; private set; } = "";

    public string Level { get; private set; } = "view";

    public async Task<IActionResult> OnGetAsync(string? scope) => await LoadAsync(scope) ?? Page();

    public async Task<IActionResult> OnPostGrantAsync(string? scope, string? principal, string? level)
    {
        if (await LoadAsync(scope) is { } refused)
        {
            return refused;
        }

        Principal = principal ?? "";
        Level = level ?? "";
        var granted = await service.GrantAsync(Caller, Scope.Value, principal, level, HttpContext.RequestAborted);
        if (granted.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        var entry = granted.Value!.Value;
        Notice = $"{(granted.Value.Created ? "Granted" : "Changed to")} {AccessLevelNames.Values.NameOf(entry.Level)} for {Describe(entry.Principal)} on {Scope} and the scopes below it.";
        return Redirect(Here);
    }

    public async Task<IActionResult> OnPostRevokeAsync(string? scope, string? principal)
    {
        if (await LoadAsync(scope) is { } refused)
        {
            return refused;
        }

        if (await service.RevokeAsync(Caller, Scope.Value, principal, HttpContext.RequestAborted) is { } refusal)
        {
            // Revoke is a button beside an entry: a refusal of the entry is a 404, not a form error.
            return refusal.Kind == RefusalKind.NotAllowed ? Refused(refusal, Page) : NotFound();
        }

        Notice = $"Revoked the entry of {principal} on {Scope}.";
        return Redirect(Here);
    }

    public string Here => $"/access?scope={Uri.EscapeDataString(Scope.Value)}";

    public string Describe(Principal principal) => principal.Kind == PrincipalKind.User
        ? View.FindUser(principal.Id)?.Name ?? principal.Id
        : View.FindGroup(principal.Id)?.Name ?? principal.Id;

    public static string LevelName(AccessLevel level) => level switch
    {
        AccessLevel.Admin => "Admin",
        AccessLevel.Edit => "Edit",
        _ => "View",
    };

    public int Depth(ScopePath scope) => scope.IsRoot ? 0 : scope.Value.Count(ch => ch == '/');

    private async Task<IActionResult?> LoadAsync(string? scope)
    {
        var ct = HttpContext.RequestAborted;
        var described = await service.DescribeAccessAsync(Caller, scope ?? Admin.Scope.Value, ct);
        if (described.Value is not { } access)
        {
            // A scope in the address that is not even a scope path names no page.
            return described.Refusal!.Kind == RefusalKind.Invalid ? NotFound() : Refused(described.Refusal, Page);
        }

        (Scope, Access) = (access.Scope, access);
        Scopes = await scopes.ListAsync(Caller, ct);
        View = await directory.GetViewAsync(ct);
        Groups = (await service.ListGroupsAsync(Caller, ct)).Value ?? [];
        Users = View.UserCount + Groups.Count <= PickerLimit ? (await service.ListUsersAsync(Caller, ct)).Value ?? [] : [];
        return null;
    }
}
