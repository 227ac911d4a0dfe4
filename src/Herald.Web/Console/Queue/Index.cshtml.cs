using System.Globalization;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Queue;

/// <summary>The outbox's messages in the administrator's scopes, newest first, filtered by
/// recipient state, scope, recipient and time.</summary>
public sealed class IndexModel(IOutboxStore outbox, ISettingsStore settings) : ConsolePage
{
    public const int PageSize = 100;

    public IReadOnlyList<MessageSummary> Messages { get; private set; } = [];

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public string? State { get; private set; }

    public string Scope { get; private set; } = "/";

    public string? Recipient { get; private set; }

    public string? Since { get; private set; }

    public string? Until { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? state, string? scope, string? recipient, string? since, string? until)
    {
        (State, Recipient, Since, Until) = (state, recipient, since, until);
        Scopes = (await settings.ListScopesAsync(HttpContext.RequestAborted)).Where(Admin.Administers).OrderBy(s => s.Value, StringComparer.Ordinal).ToArray();
        var target = Admin.Scope;
        if (!string.IsNullOrEmpty(scope))
        {
            if (!ScopePath.TryParse(scope, out target, out var scopeError))
            {
                ModelState.AddModelError("scope", scopeError);
            }
            else if (!Admin.Administers(target))
            {
                return RefuseScope(target);
            }
        }

        Scope = target.Value;
        RecipientState? wanted = null;
        if (!string.IsNullOrEmpty(state))
        {
            if (RecipientStateNames.Values.TryParse(state, out var error, out var parsed))
            {
                wanted = parsed;
            }
            else
            {
                ModelState.AddModelError("state", $"State {error}");
            }
        }

        var from = Time(since, "since");
        var to = Time(until, "until");
        if (recipient is { Length: > 320 })
        {
            ModelState.AddModelError("recipient", "A recipient address is at most 320 characters.");
        }

        if (ModelState.ErrorCount > 0)
        {
            Response.StatusCode = 400;
            return Page();
        }

        Messages = await outbox.ListAsync(
            new MessageFilter(target, wanted, string.IsNullOrWhiteSpace(recipient) ? null : recipient.Trim(), from, to, PageSize), HttpContext.RequestAborted);
        return Page();
    }

    /// <summary>A time from the form's datetime-local field, read as UTC.</summary>
    private DateTimeOffset? Time(string? text, string field)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        if (DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var value))
        {
            return new DateTimeOffset(value, TimeSpan.Zero);
        }

        ModelState.AddModelError(field, $"'{text}' is not a date and time such as 2026-11-23T14:00.");
        return null;
    }
}
