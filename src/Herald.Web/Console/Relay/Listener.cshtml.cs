using Herald.Relay;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Relay;

/// <summary>One relay listener: where it listens, its scope, its access list ("only the list
/// below" or "all except the list below"), authentication and allowed domains. The administrator
/// must administer the listener's scope before and after the change.</summary>
public sealed class ListenerModel(RelaySettingsService service, ISettingsStore settings) : ConsolePage
{
    public bool IsNew { get; private set; } = true;

    public string? Listen { get; private set; }

    public string Scope { get; private set; } = "/";

    public string Access { get; private set; } = "only-list";

    public string Entries { get; private set; } = "";

    public string Auth { get; private set; } = "none";

    public string SenderDomains { get; private set; } = "";

    public string RecipientDomains { get; private set; } = "";

    public bool AuthWithoutTls { get; private set; }

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(string? listen)
    {
        await LoadScopesAsync();
        Scope = Admin.Scope.Value;
        if (listen is null)
        {
            return Page();
        }

        if (await service.FindStoredListenerAsync(listen, HttpContext.RequestAborted) is not { } stored)
        {
            return NotFound();
        }

        if (!Admin.Administers(stored.Scope))
        {
            return RefuseScope(stored.Scope);
        }

        IsNew = false;
        Listen = stored.Listen;
        Scope = stored.Scope.Value;
        Access = RelayAccessModeNames.Values.NameOf(stored.Access);
        Entries = string.Join('\n', stored.Entries);
        Auth = RelayAuthModeNames.Values.NameOf(stored.Auth);
        SenderDomains = string.Join('\n', stored.SenderDomains);
        RecipientDomains = string.Join('\n', stored.RecipientDomains);
        AuthWithoutTls = stored.AuthWithoutTls;
        return Page();
    }

    public async Task<IActionResult> OnPostSaveAsync(
        [FromQuery(Name = "listen")] string? existingListen, string? listen, string? scope, string? access, string? entries, string? auth,
        string? senderDomains, string? recipientDomains, bool authWithoutTls)
    {
        await LoadScopesAsync();
        IsNew = existingListen is null;
        Listen = existingListen ?? listen?.Trim();
        (Scope, Access, Entries, Auth, SenderDomains, RecipientDomains, AuthWithoutTls) =
            (scope ?? "/", access ?? "only-list", entries ?? "", auth ?? "none", senderDomains ?? "", recipientDomains ?? "", authWithoutTls);

        var stored = await service.FindStoredListenerAsync(Listen, HttpContext.RequestAborted);
        if (stored is not null && !Admin.Administers(stored.Scope))
        {
            return RefuseScope(stored.Scope);
        }

        if (IsNew && stored is not null)
        {
            ModelState.AddModelError("listen", $"A listener on {stored.Listen} exists already: edit it instead.");
            Response.StatusCode = 400;
            return Page();
        }

        if (ScopePath.TryParse(scope, out var target, out _) && !Admin.Administers(target))
        {
            return RefuseScope(target);
        }

        var (saved, errors) = await service.SetListenerAsync(new RelayListenerUpdate(Listen)
        {
            Scope = scope,
            Access = access,
            Entries = Lines(entries),
            Auth = auth,
            SenderDomains = Lines(senderDomains),
            RecipientDomains = Lines(recipientDomains),
            AuthWithoutTls = authWithoutTls,
        }, HttpContext.RequestAborted);
        if (saved is null)
        {
            AddErrors(errors);
            Response.StatusCode = 400;
            return Page();
        }

        Notice = $"Saved relay listener {saved.Listen}; running nodes apply it within seconds.";
        return Redirect("/relay");
    }

    public async Task<IActionResult> OnPostRemoveAsync([FromQuery(Name = "listen")] string? listen)
    {
        if (await service.FindStoredListenerAsync(listen, HttpContext.RequestAborted) is not { } stored)
        {
            return NotFound();
        }

        if (!Admin.Administers(stored.Scope))
        {
            return RefuseScope(stored.Scope);
        }

        await service.RemoveListenerAsync(stored, HttpContext.RequestAborted);
        Notice = $"Removed relay listener {stored.Listen}.";
        return Redirect("/relay");
    }

    private static string[] Lines(string? text) =>
        (text ?? "").Split(['\n', '\r', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private async Task LoadScopesAsync() =>
        Scopes = (await settings.ListScopesAsync(HttpContext.RequestAborted)).Where(Admin.Administers).OrderBy(s => s.Value, StringComparer.Ordinal).ToArray();
}
