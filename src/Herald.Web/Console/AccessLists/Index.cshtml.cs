using Herald.Notifications;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.AccessLists;

/// <summary>A scope's access list: its own entries (revocable here), the entries inherited from
/// its ancestors marked with where they come from, and a form to grant View, Edit or Admin to a
/// user or group. A scope administrator sees and changes the access lists of their scopes only.</summary>
public sealed class IndexModel(DirectoryService service, IDirectoryStore store, ISettingsStore settings, DirectoryCache directory) : ConsolePage
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
        var (saved, created, errors) = await service.GrantAsync(Scope.Value, principal, level, HttpContext.RequestAborted);
        if (saved is null)
        {
            AddErrors(errors);
            Response.StatusCode = 400;
            return Page();
        }

        Notice = $"{(created ? "Granted" : "Changed to")} {AccessLevelNames.Values.NameOf(saved.Level)} for {Describe(saved.Principal)} on {Scope} and the scopes below it.";
        return Redirect(Here);
    }

    public async Task<IActionResult> OnPostRevokeAsync(string? scope, string? principal)
    {
        if (await LoadAsync(scope) is { } refused)
        {
            return refused;
        }

        var (removed, errors) = await service.RevokeAsync(Scope.Value, principal, HttpContext.RequestAborted);
        if (errors.Count > 0 || !removed)
        {
            return NotFound();
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
        if (!ScopePath.TryParse(scope ?? Admin.Scope.Value, out var path, out _))
        {
            path = Admin.Scope;
        }

        if (!Admin.Administers(path))
        {
            return RefuseScope(path);
        }

        if (!await settings.ScopeExistsAsync(path, HttpContext.RequestAborted))
        {
            return NotFound();
        }

        Scope = path;
        Scopes = (await settings.ListScopesAsync(HttpContext.RequestAborted)).Where(Admin.Administers).OrderBy(s => s.Value, StringComparer.Ordinal).ToArray();
        Access = await service.DescribeAccessAsync(path, HttpContext.RequestAborted);
        View = await directory.GetViewAsync(HttpContext.RequestAborted);
        Groups = await store.ListGroupsAsync(HttpContext.RequestAborted);
        Users = View.UserCount + Groups.Count <= PickerLimit ? await store.ListUsersAsync(HttpContext.RequestAborted) : [];
        return null;
    }
}
