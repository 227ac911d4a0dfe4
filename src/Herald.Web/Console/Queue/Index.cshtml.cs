using System.Globalization;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Queue;

/// <summary>The outbox's messages in the administrator's scopes, newest first, filtered by
/// recipient state, scope, recipient and time (<see cref="QueueService.ListAsync"/>).</summary>
public sealed class IndexModel(QueueService queue, ISettingsStore settings) : ConsolePage
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
        Scopes = await AdministeredScopesAsync(settings);
        Scope = string.IsNullOrEmpty(scope) ? Admin.Scope.Value : scope;
        var from = Time(since, "since");
        var to = Time(until, "until");
        if (ModelState.ErrorCount > 0)
        {
            Response.StatusCode = 400;
            return Page();
        }

        var query = new MessageQuery(Scope)
        {
            State = string.IsNullOrEmpty(state) ? null : state,
            Recipient = recipient,
            Since = from,
            Until = to,
            Limit = PageSize,
        };
        var found = await queue.ListAsync(Caller, query, HttpContext.RequestAborted);
        if (found.Refusal is { } refusal)
        {
            return Refused(refusal, () =>
            {
                Response.StatusCode = 400;
                return Page();
            });
        }

        Messages = found.Value!;
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
