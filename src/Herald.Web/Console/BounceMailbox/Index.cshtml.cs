using Herald.Bounces;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.BounceMailbox;

/// <summary>A scope's bounce mailbox: shown without its secrets, set, removed and read now, through
/// <see cref="BounceMailboxService"/>, which decides who may and what is valid.</summary>
public sealed class IndexModel(BounceMailboxService mailboxes, ISettingsStore settings) : ConsolePage
{
    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public string Scope { get; private set; } = "/";

    /// <summary>The scope's own mailbox; null when it has none.</summary>
    public BounceMailboxView? Mailbox { get; private set; }

    /// <summary>What the form held, shown again when it was refused (never its password).</summary>
    public BounceMailboxUpdate? Draft { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? scope) => await ShowAsync(scope);

    public async Task<IActionResult> OnPostSetAsync(
        string? scope, string? protocol, string? host, string? port, string? security, string? domain, string? folder,
        string? userName, string? password, string? trustCa, string? trustThumbprint, bool trustSystem)
    {
        int? portNumber = null;
        if (!string.IsNullOrWhiteSpace(port))
        {
            if (int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value))
            {
                portNumber = value;
            }
            else
            {
                ModelState.AddModelError("port", "The port is 1 to 65535.");
            }
        }

        // Blank secrets and trust fields keep what is stored, as the API's left-out fields do.
        Draft = new BounceMailboxUpdate(
            scope, protocol, host, portNumber, security, domain, Blank(folder),
            Blank(userName), Blank(password), Blank(trustCa), Blank(trustThumbprint), trustSystem);
        if (ModelState.ErrorCount > 0)
        {
            Response.StatusCode = 422;
            return await ShowAsync(scope);
        }

        var saved = await mailboxes.SetAsync(Caller, Draft, HttpContext.RequestAborted);
        if (saved.Refusal is { } refusal)
        {
            if (refusal.Kind is not (RefusalKind.NotAllowed or RefusalKind.NotFound))
            {
                await ShowAsync(scope);
            }

            return Refused(refusal, Page);
        }

        Notice = $"The bounce mailbox of {saved.Value!.Value.Scope} was {(saved.Value.Created ? "added" : "changed")}.";
        return Redirect(Here(saved.Value.Value.Scope.Value));
    }

    public async Task<IActionResult> OnPostRemoveAsync(string? scope)
    {
        if (await mailboxes.RemoveAsync(Caller, scope, HttpContext.RequestAborted) is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Notice = $"The bounce mailbox of {scope} was removed; its messages are sent with the configured envelope sender again.";
        return Redirect(Here(scope));
    }

    public async Task<IActionResult> OnPostReadAsync(string? scope)
    {
        var read = await mailboxes.ReadNowAsync(Caller, scope, HttpContext.RequestAborted);
        if (read.Refusal is { } refusal)
        {
            if (refusal.Kind is not (RefusalKind.NotAllowed or RefusalKind.NotFound))
            {
                await ShowAsync(scope);
            }

            return Refused(refusal, Page);
        }

        Notice = read.Value!.Summary;
        return Redirect(Here(read.Value.Scope.Value));
    }

    private async Task<IActionResult> ShowAsync(string? scope)
    {
        Scopes = await AdministeredScopesAsync(settings);
        Scope = string.IsNullOrEmpty(scope) ? Admin.Scope.Value : scope;
        var shown = await mailboxes.ShowAsync(Caller, Scope, HttpContext.RequestAborted);
        if (shown.Refusal is { Kind: not RefusalKind.NotFound } refusal)
        {
            return Refused(refusal, () =>
            {
                Response.StatusCode = 400;
                return Page();
            });
        }

        Mailbox = shown.Value;
        return Page();
    }

    private static string Here(string? scope) => $"/bounce-mailbox?scope={Uri.EscapeDataString(scope ?? "/")}";

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;
}
