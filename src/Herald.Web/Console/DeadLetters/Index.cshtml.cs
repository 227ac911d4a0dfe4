using System.Globalization;
using Herald.Outbox.DeadLetters;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.DeadLetters;

/// <summary>The dead letters of the administrator's scopes: filter them, retry or suppress the
/// selected ones or everything matching, export them (<see cref="DeadLetterService"/>).</summary>
public sealed class IndexModel(DeadLetterService deadLetters, ISettingsStore settings) : ConsolePage
{
    public const int PageSize = 100;

    public DeadLetterPage Found { get; private set; } = new([], null);

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public string Scope { get; private set; } = "/";

    public string? State { get; private set; }

    public string? Domain { get; private set; }

    public string? Since { get; private set; }

    public string? Until { get; private set; }

    /// <summary>The filter as a query string, for export links and the next page.</summary>
    public string FilterQuery =>
        $"scope={Uri.EscapeDataString(Scope)}&state={Uri.EscapeDataString(State ?? "")}&domain={Uri.EscapeDataString(Domain ?? "")}&since={Uri.EscapeDataString(Since ?? "")}&until={Uri.EscapeDataString(Until ?? "")}";

    public async Task<IActionResult> OnGetAsync(string? scope, string? state, string? domain, string? since, string? until, string? after) =>
        await ShowAsync(scope, state, domain, since, until, after);

    /// <summary>"Retry selected": the checked rows, each <c>message-id:address</c>.</summary>
    public Task<IActionResult> OnPostRetryAsync(string? scope, string? state, string? domain, string? since, string? until, string[]? selected) =>
        ActAsync(scope, state, domain, since, until, Selected(selected), (selection, ct) => deadLetters.RetryAsync(Caller, selection, ct), "retried");

    public Task<IActionResult> OnPostSuppressAsync(string? scope, string? state, string? domain, string? since, string? until, string[]? selected) =>
        ActAsync(scope, state, domain, since, until, Selected(selected), (selection, ct) => deadLetters.SuppressAsync(Caller, selection, ct), "suppressed");

    /// <summary>"Retry all matching": everything the filter selects, up to the service's cap.</summary>
    public Task<IActionResult> OnPostRetryAllAsync(string? scope, string? state, string? domain, string? since, string? until) =>
        ActAsync(scope, state, domain, since, until, null, (selection, ct) => deadLetters.RetryAsync(Caller, selection, ct), "retried");

    /// <summary>The export of what the filter shows, as a file.</summary>
    public IActionResult OnGetExport(string? scope, string? state, string? domain, string? since, string? until, string? format)
    {
        var query = Query(scope, state, domain, since, until);
        if (ModelState.ErrorCount > 0)
        {
            return Content(string.Join(" ", ModelState.Values.SelectMany(v => v.Errors).Select(e => e.ErrorMessage)));
        }

        var export = deadLetters.Export(Caller, query, format);
        if (export.Refusal is { } refusal)
        {
            return Refused(refusal, () => Content(refusal.ToString()));
        }

        var file = export.Value!;
        return new StreamedFile(file.ContentType, file.FileName, file.WriteAsync);
    }

    private async Task<IActionResult> ActAsync(
        string? scope, string? state, string? domain, string? since, string? until, IReadOnlyList<DeadLetterRecipient>? selected,
        Func<DeadLetterSelection, CancellationToken, Task<Result<DeadLetterOutcome>>> act, string done)
    {
        var query = Query(scope, state, domain, since, until);
        if (ModelState.ErrorCount > 0)
        {
            Response.StatusCode = 422;
            return await ShowAsync(scope, state, domain, since, until, null);
        }

        var outcome = await act(new DeadLetterSelection(selected, selected is null ? query : null), HttpContext.RequestAborted);
        if (outcome.Refusal is { } refusal)
        {
            if (refusal.Kind is not (RefusalKind.NotAllowed or RefusalKind.NotFound))
            {
                await ShowAsync(scope, state, domain, since, until, null);
            }

            return Refused(refusal, Page);
        }

        var value = outcome.Value!;
        Notice = $"{value.Changed} of {value.Selected} selected {(value.Changed == 1 ? "recipient" : "recipients")} {done}"
            + (value.Skipped > 0 ? $"; {value.Skipped} skipped (no longer a dead letter, still suppressed, or not in your scopes)." : ".");
        return Redirect($"/dead-letters?{FilterQueryOf(scope, state, domain, since, until)}");
    }

    private static DeadLetterRecipient[] Selected(string[]? selected) =>
        (selected ?? []).Select(s => s.IndexOf(':', StringComparison.Ordinal) is var colon and > 0
            ? new DeadLetterRecipient(s[..colon], s[(colon + 1)..])
            : new DeadLetterRecipient(s, null)).ToArray();

    private async Task<IActionResult> ShowAsync(string? scope, string? state, string? domain, string? since, string? until, string? after)
    {
        (State, Domain, Since, Until) = (state, domain, since, until);
        Scopes = await AdministeredScopesAsync(settings);
        Scope = string.IsNullOrEmpty(scope) ? Admin.Scope.Value : scope;
        var query = Query(scope, state, domain, since, until) with { After = string.IsNullOrEmpty(after) ? null : after, Limit = PageSize };
        if (ModelState.ErrorCount > 0)
        {
            Response.StatusCode = 400;
            return Page();
        }

        var found = await deadLetters.ListAsync(Caller, query, HttpContext.RequestAborted);
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

    /// <summary>The filter as the service takes it; a time the form cannot even parse is this door's to report.</summary>
    private DeadLetterQuery Query(string? scope, string? state, string? domain, string? since, string? until) => new(
        string.IsNullOrEmpty(scope) ? Admin.Scope.Value : scope,
        string.IsNullOrEmpty(state) ? null : state,
        string.IsNullOrEmpty(domain) ? null : domain,
        Time("since", since),
        Time("until", until));

    private DateTimeOffset? Time(string field, string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        if (DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var value))
        {
            return new DateTimeOffset(value, TimeSpan.Zero);
        }

        ModelState.AddModelError(field, $"'{text[..Math.Min(text.Length, 40)]}' is not a date and time such as 2026-12-01T00:00.");
        return null;
    }

    private static string FilterQueryOf(string? scope, string? state, string? domain, string? since, string? until) =>
        $"scope={Uri.EscapeDataString(scope ?? "")}&state={Uri.EscapeDataString(state ?? "")}&domain={Uri.EscapeDataString(domain ?? "")}&since={Uri.EscapeDataString(since ?? "")}&until={Uri.EscapeDataString(until ?? "")}";
}
