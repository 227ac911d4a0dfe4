using Herald.Relay;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Relay;

/// <summary>One relay listener: where it listens, its scope, its access list ("only the list
/// below" or "all except the list below"), authentication and allowed domains.
/// <see cref="RelaySettingsService"/> decides who may change what: administrators of / add, move
/// and remove listeners; a listener scope's administrators edit its lists. A field the form did
/// not post is left as it is stored.</summary>
public sealed class ListenerModel(RelaySettingsService service, ISettingsStore settings) : ConsolePage
{
    public bool IsNew { get; private set; } = true;

    /// <summary>Whether this administrator may move the listener and decide on AUTH without TLS
    /// (administrators of /); for others those fields are shown, not posted.</summary>
    public bool ManagesEndpoints => RelaySettingsService.ManagesEndpoints(Caller);

    public string? Listen { get; private set; }

    public string Scope { get; private set; } = "/";

    public string Access { get; private set; } = "only-list";

    public string Entries { get; private set; } = "";

    public string Auth { get; private set; } = "none";

    public string SenderDomains { get; private set; } = "";

    public string RecipientDomains { get; private set; } = "";

    public bool AuthWithoutTls { get; private set; }

    public bool Stored { get; private set; }

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(string? listen)
    {
        await LoadScopesAsync();
        if (listen is null)
        {
            if (RelaySettingsService.RefuseUnlessMayAddListeners(Caller) is { } notRoot)
            {
                return Refused(notRoot, Page);
            }

            Scope = Admin.Scope.Value;
            return Page();
        }

        var found = await service.GetListenerAsync(Caller, listen, HttpContext.RequestAborted);
        if (found.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        var stored = found.Value!.Listener;
        IsNew = false;
        Stored = found.Value.Stored;
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

    /// <param name="authWithoutTls">The checkbox posts "true" before a hidden "false" (the first
    /// value counts); neither is posted when the administrator may not change it.</param>
    public async Task<IActionResult> OnPostSaveAsync(
        [FromQuery(Name = "listen")] string? existingListen, string? listen, string? scope, string? access, string? entries, string? auth,
        string? senderDomains, string? recipientDomains, bool? authWithoutTls)
    {
        await LoadScopesAsync();
        IsNew = existingListen is null;
        Listen = existingListen ?? listen;
        if (!IsNew && (await service.GetListenerAsync(Caller, Listen, HttpContext.RequestAborted)).Value is { } current)
        {
            // Shown again as stored when the form cannot post them.
            (Scope, AuthWithoutTls, Stored) = (current.Listener.Scope.Value, current.Listener.AuthWithoutTls, current.Stored);
        }

        (Scope, Access, Entries, Auth, SenderDomains, RecipientDomains, AuthWithoutTls) =
            (scope ?? Scope, access ?? Access, entries ?? "", auth ?? Auth, senderDomains ?? "", recipientDomains ?? "", authWithoutTls ?? AuthWithoutTls);

        var saved = await service.SaveListenerAsync(Caller, new RelayListenerUpdate(Listen)
        {
            Scope = scope,
            Access = access,
            Entries = Lines(entries),
            Auth = auth,
            SenderDomains = Lines(senderDomains),
            RecipientDomains = Lines(recipientDomains),
            AuthWithoutTls = authWithoutTls,
        }, IsNew, HttpContext.RequestAborted);
        if (saved.Refusal is { } refusal)
        {
            return Refused(refusal, () =>
            {
                Response.StatusCode = 400;
                return Page();
            });
        }

        Notice = $"Saved relay listener {saved.Value!.Listener.Listen}; running nodes apply it within seconds.";
        return Redirect("/relay");
    }

    public async Task<IActionResult> OnPostRemoveAsync([FromQuery(Name = "listen")] string? listen)
    {
        var removed = await service.RemoveListenerAsync(Caller, listen, HttpContext.RequestAborted);
        if (removed.Refusal is { } refusal)
        {
            return Refused(refusal, () => Redirect("/relay"));
        }

        Notice = $"Removed relay listener {removed.Value!.Listen}.";
        return Redirect("/relay");
    }

    /// <summary>One entry per line (or comma); null when the form did not post the field.</summary>
    private static string[]? Lines(string? text) =>
        text?.Split(['\n', '\r', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private async Task LoadScopesAsync() =>
        Scopes = await AdministeredScopesAsync(settings);
}
