using Herald.Relay;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Relay;

/// <summary>The relay's listeners and accounts in the administrator's scopes; accounts are added
/// and removed here (the password is write-only). <see cref="RelaySettingsService"/> decides who may.</summary>
public sealed class IndexModel(RelaySettingsService service, ISettingsStore settings) : ConsolePage
{
    public IReadOnlyList<RelayListenerView> Listeners { get; private set; } = [];

    public IReadOnlyList<RelayAccount> Accounts { get; private set; } = [];

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    /// <summary>Whether this administrator adds and removes listeners (administrators of /).</summary>
    public bool ManagesEndpoints => RelaySettingsService.ManagesEndpoints(Caller);

    public string? NewUser { get; private set; }

    public string? NewScope { get; private set; }

    public async Task OnGetAsync() => await LoadAsync();

    public async Task<IActionResult> OnPostAddAccountAsync(string? user, string? scope, string? password)
    {
        NewUser = user;
        NewScope = scope;
        var saved = await service.SaveAccountAsync(Caller, scope, user, password, HttpContext.RequestAborted);
        if (saved.Refusal is { } refusal)
        {
            await LoadAsync();
            return Refused(refusal, () =>
            {
                Response.StatusCode = 400;
                return Page();
            });
        }

        var account = saved.Value!.Account;
        Notice = saved.Value.Created ? $"Added relay account {account.UserName}." : $"Changed the password and scope of relay account {account.UserName}.";
        return Redirect("/relay");
    }

    public async Task<IActionResult> OnPostRemoveAccountAsync(string? user)
    {
        var removed = await service.RemoveAccountAsync(Caller, user, HttpContext.RequestAborted);
        if (removed.Refusal is { } refusal)
        {
            await LoadAsync();
            return Refused(refusal, Page);
        }

        Notice = $"Removed relay account {removed.Value!.UserName}.";
        return Redirect("/relay");
    }

    private async Task LoadAsync()
    {
        Listeners = (await service.ListListenersAsync(Caller, HttpContext.RequestAborted)).Value ?? [];
        Accounts = (await service.ListAccountsAsync(Caller, HttpContext.RequestAborted)).Value ?? [];
        Scopes = await AdministeredScopesAsync(settings);
    }
}
