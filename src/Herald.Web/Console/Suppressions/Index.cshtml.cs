using System.Globalization;
using Herald.Scopes;
using Herald.Settings;
using Herald.Suppression;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Suppressions;

/// <summary>The suppression lists of the administrator's scopes: filter, add and remove entries
/// (<see cref="SuppressionService"/>), export them as CSV or JSON.</summary>
public sealed class IndexModel(SuppressionService suppressions, ISettingsStore settings) : ConsolePage
{
    public const int PageSize = 100;

    public SuppressionPage Found { get; private set; } = new([], null);

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public string Scope { get; private set; } = "/";

    public string? Address { get; private set; }

    public string? Reason { get; private set; }

    public string? Before { get; private set; }

    /// <summary>What the add form held, shown again when it was refused.</summary>
    public SuppressionRequest? Draft { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? scope, string? address, string? reason, string? before) =>
        await ShowAsync(scope, address, reason, before);

    public async Task<IActionResult> OnPostAddAsync(string? scope, string? address, string? reason, string? source, string? expires)
    {
        DateTimeOffset? expiresAt = null;
        if (!string.IsNullOrWhiteSpace(expires))
        {
            if (DateTime.TryParse(expires, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var value))
            {
                expiresAt = new DateTimeOffset(value, TimeSpan.Zero);
            }
            else
            {
                ModelState.AddModelError("expiresAt", $"'{expires[..Math.Min(expires.Length, 40)]}' is not a date and time such as 2027-01-31T00:00.");
            }
        }

        Draft = new SuppressionRequest(scope, address, reason, source, expiresAt);
        if (ModelState.ErrorCount > 0)
        {
            Response.StatusCode = 422;
            return await ShowAsync(scope, null, null, null);
        }

        var added = await suppressions.AddAsync(Caller, Draft, HttpContext.RequestAborted);
        if (added.Refusal is { } refusal)
        {
            if (refusal.Kind is not (RefusalKind.NotAllowed or RefusalKind.NotFound))
            {
                // The list under the form, as before; then each sentence next to its field.
                await ShowAsync(scope, null, null, null);
            }

            return Refused(refusal, Page);
        }

        Notice = $"{added.Value!.Address} is suppressed in {added.Value.Scope} and the scopes below it.";
        return Redirect($"/suppressions?scope={Uri.EscapeDataString(added.Value.Scope.Value)}");
    }

    public async Task<IActionResult> OnPostRemoveAsync(string? id)
    {
        var removed = await suppressions.RemoveAsync(Caller, id, HttpContext.RequestAborted);
        if (removed.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Notice = $"{removed.Value!.Address} is no longer suppressed in {removed.Value.Scope}.";
        return Redirect($"/suppressions?scope={Uri.EscapeDataString(removed.Value.Scope.Value)}");
    }

    /// <summary>The export of what the filter shows, as a file.</summary>
    public IActionResult OnGetExport(string? scope, string? address, string? reason, string? format)
    {
        var export = suppressions.Export(Caller, new SuppressionQuery(string.IsNullOrEmpty(scope) ? Admin.Scope.Value : scope, address, reason), format);
        if (export.Refusal is { } refusal)
        {
            return Refused(refusal, () => Content(refusal.ToString()));
        }

        var file = export.Value!;
        return new StreamedFile(file.ContentType, file.FileName, file.WriteAsync);
    }

    private async Task<IActionResult> ShowAsync(string? scope, string? address, string? reason, string? before)
    {
        (Address, Reason, Before) = (address, reason, before);
        Scopes = await AdministeredScopesAsync(settings);
        Scope = string.IsNullOrEmpty(scope) ? Admin.Scope.Value : scope;
        var query = new SuppressionQuery(Scope, address, string.IsNullOrEmpty(reason) ? null : reason, string.IsNullOrEmpty(before) ? null : before, PageSize);
        var found = await suppressions.ListAsync(Caller, query, HttpContext.RequestAborted);
        if (found.Refusal is { } refusal)
        {
            return Refused(refusal, () =>
            {
                Response.StatusCode = 400;
                return Page();
            });
        }

        Found = found.Value!;
        return Page();
    }
}
