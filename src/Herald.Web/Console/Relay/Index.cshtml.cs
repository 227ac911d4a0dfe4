using Herald.Relay;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Relay;

/// <summary>The relay's listeners and accounts in the administrator's scopes; accounts are added
/// and removed here (the password is write-only).</summary>
public sealed class IndexModel(IRelayStore relay, RelaySettingsService service, ISettingsStore settings) : ConsolePage
{
    public IReadOnlyList<RelayListenerSettings> Listeners { get; private set; } = [];

    public bool ShowsDefault { get; private set; }

    public IReadOnlyList<RelayAccount> Accounts { get; private set; } = [];

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public string? NewUser { get; private set; }

    public string? NewScope { get; private set; }

    public async Task OnGetAsync() => await LoadAsync();

    public async Task<IActionResult> OnPostAddAccountAsync(string? user, string? scope, string? password)
    {
        await LoadAsync();
        NewUser = user;
        NewScope = scope;
        if (ScopePath.TryParse(scope, out var path, out _) && !Admin.Administers(path))
        {
            return RefuseScope(path);
        }

        if (user is not null && await relay.FindAccountAsync(user, HttpContext.RequestAborted) is { } existing && !Admin.Administers(existing.Scope))
        {
            return Refuse($"Relay account {user} belongs to scope {existing.Scope}, outside the scopes you administer.");
        }

        var (created, errors) = await service.SetAccountAsync(scope, user?.Trim(), password, HttpContext.RequestAborted);
        if (errors.Count > 0)
        {
            AddErrors(errors);
            Response.StatusCode = 400;
            return Page();
        }

        Notice = created ? $"Added relay account {user}." : $"Changed the password and scope of relay account {user}.";
        return Redirect("/relay");
    }

    public async Task<IActionResult> OnPostRemoveAccountAsync(string? user)
    {
        if (user is null || await relay.FindAccountAsync(user, HttpContext.RequestAborted) is not { } account)
        {
            return NotFound();
        }

        if (!Admin.Administers(account.Scope))
        {
            return RefuseScope(account.Scope);
        }

        await service.RemoveAccountAsync(user, HttpContext.RequestAborted);
        Notice = $"Removed relay account {user}.";
        return Redirect("/relay");
    }

    private async Task LoadAsync()
    {
        var stored = await relay.ListListenersAsync(HttpContext.RequestAborted);
        ShowsDefault = stored.Count == 0 && Admin.Administers(RelaySettingsService.DefaultListener.Scope);
        Listeners = (stored.Count == 0 ? [RelaySettingsService.DefaultListener] : stored).Where(l => Admin.Administers(l.Scope)).ToArray();
        Accounts = (await relay.ListAccountsAsync(HttpContext.RequestAborted)).Where(a => Admin.Administers(a.Scope)).ToArray();
        Scopes = (await settings.ListScopesAsync(HttpContext.RequestAborted)).Where(Admin.Administers).OrderBy(s => s.Value, StringComparer.Ordinal).ToArray();
    }
}
