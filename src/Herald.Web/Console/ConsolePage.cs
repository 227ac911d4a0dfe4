using System.Net;
using Herald.Access;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.AspNetCore.Html;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Herald.Web.Console;

/// <summary>What every console page shares: the signed-in caller (an administrator or a person),
/// the 403 for what they may not do, a one-line notice after a redirect, and field errors by name.</summary>
[RequestSizeLimit(1_048_576)]
[RequestFormLimits(MultipartBodyLengthLimit = 1_048_576, ValueLengthLimit = 65_536, ValueCountLimit = 200)]
public abstract class ConsolePage : PageModel
{
    private ConsoleUser? _admin;
    private Caller? _caller;

    /// <summary>The signed-in administrator. Only administrators reach the pages that ask (the
    /// console's policy); asking on a person's page is a bug, never a default scope.</summary>
    public ConsoleUser Admin => _admin ??= ConsoleUser.From(User)
        ?? throw new InvalidOperationException("This page is an administrator's, and no administrator is signed in.");

    /// <summary>Whether the session is an administrator's (a person's pages take both).</summary>
    public bool SignedInAsAdministrator => ConsoleUser.From(User) is not null;

    /// <summary>The caller every use case is given: the signed-in administrator or person.</summary>
    public Caller Caller => _caller ??= ConsoleSessions.CallerOf(User)
        ?? throw new InvalidOperationException("This page needs a session, and nobody is signed in.");

    [TempData]
    public string? Notice { get; set; }

    /// <summary>403, with a page that says what was refused and why.</summary>
    protected ContentResult Refuse(string what) => new()
    {
        StatusCode = 403,
        ContentType = "text/html; charset=utf-8",
        Content = ConsoleUser.From(User) is { } admin
            ? NotAllowedHtml(what, $"You are signed in as {admin.Name}, administrator of {admin.Scope.Value} and the scopes below it.", ("/", "Back to the dashboard"))
            : NotAllowedHtml(what, $"You are signed in as {User.Identity?.Name}.", ("/me", "Back to my alerts")),
    };

    /// <summary>The "Not allowed" page: what was refused, who is signed in, and where to go.</summary>
    internal static string NotAllowedHtml(string what, string who, (string Href, string Text) back) => $"""
        <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Not allowed · Herald</title><link rel="stylesheet" href="/console.css"></head>
        <body class="bare"><main class="auth-card" id="main"><h1>Not allowed</h1>
        <p class="alert alert-error" role="alert">{WebUtility.HtmlEncode(what)}</p>
        <p>{WebUtility.HtmlEncode(who)}</p>
        <p><a class="button" href="{WebUtility.HtmlEncode(back.Href)}">{WebUtility.HtmlEncode(back.Text)}</a></p></main></body></html>
        """;

    /// <summary>The scopes the signed-in administrator administers, in path order: a page's scope picker.</summary>
    protected async Task<IReadOnlyList<ScopePath>> AdministeredScopesAsync(ISettingsStore settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return (await settings.ListScopesAsync(HttpContext.RequestAborted).ConfigureAwait(false)).Where(Admin.Administers).OrderBy(s => s.Value, StringComparer.Ordinal).ToArray();
    }

    protected ContentResult RefuseScope(ScopePath scope) =>
        Refuse($"Scope {scope} is outside the scopes you administer ({Admin.Scope} and below).");

    /// <summary>
    /// A use case's refusal as the console shows it: a 403 page that says why, a 404, or (for
    /// invalid or clashing input) each sentence next to its field on the page that was posted,
    /// which <paramref name="redisplay"/> renders again.
    /// </summary>
    protected IActionResult Refused(Refusal refusal, Func<IActionResult> redisplay)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        ArgumentNullException.ThrowIfNull(redisplay);
        switch (refusal.Kind)
        {
            case RefusalKind.NotAllowed:
                return Refuse(refusal.Sentence);
            case RefusalKind.NotFound:
                return NotFound();
            default:
                AddErrors(refusal.Errors.Count > 0 ? refusal.Errors : [new FieldError("", refusal.Sentence)]);
                // As the API answers: the page is shown again, and nothing was stored.
                Response.StatusCode = refusal.Kind == RefusalKind.Conflict ? 409 : 422;
                return redisplay();
        }
    }

    protected void AddErrors(IEnumerable<FieldError> errors)
    {
        foreach (var error in errors)
        {
            // "entries[3]" is shown next to the entries field.
            var field = error.Field.Split('[')[0];
            ModelState.AddModelError(field, error.Message);
        }
    }

    public string? Error(string field) =>
        ModelState.TryGetValue(field, out var entry) && entry.Errors.Count > 0 ? string.Join(" ", entry.Errors.Select(e => e.ErrorMessage)) : null;

    /// <summary>The message shown next to a field, referenced by the field's aria-describedby.</summary>
    public IHtmlContent FieldError(string field) => Error(field) is { } message
        ? new HtmlString($"<p class=\"field-error\" id=\"{field}-error\">{WebUtility.HtmlEncode(message)}</p>")
        : HtmlString.Empty;

    /// <summary>aria attributes for an input that may have an error.</summary>
    public IHtmlContent Aria(string field, string? hint = null)
    {
        var described = string.Join(' ', new[] { hint, Error(field) is null ? null : field + "-error" }.Where(s => s is not null));
        return new HtmlString((Error(field) is null ? "" : "aria-invalid=\"true\" ") + (described.Length > 0 ? $"aria-describedby=\"{described}\"" : ""));
    }

    public static bool IsValid(ModelStateDictionary state) => state.ErrorCount == 0;
}
