using Herald.Notifications;
using Herald.Notifications.Explain;
using Herald.Scopes;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Events;

/// <summary>An event's page: every subscription and rule that matched it and what happened to each
/// candidate recipient, with why; and "why did (or didn't) this person get it?" — the same for one
/// user id or address (<see cref="ExplainService"/>).</summary>
public sealed class ExplainModel(ExplainService explain) : ConsolePage
{
    public string Scope { get; private set; } = "/";

    public string? Id { get; private set; }

    public string? Recipient { get; private set; }

    public EventExplanation? Explanation { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? scope, string? id, string? recipient)
    {
        (Scope, Id, Recipient) = (scope ?? Admin.Scope.Value, id, string.IsNullOrEmpty(recipient) ? null : recipient);
        if (string.IsNullOrEmpty(id))
        {
            return Page();
        }

        var errors = new List<FieldError>();
        if (!ScopePath.TryParse(Scope, out var eventScope, out var scopeError))
        {
            errors.Add(new FieldError("scope", scopeError));
        }

        ExplainRecipient? who = null;
        if (Recipient is not null && !ExplainRecipient.TryParse(Recipient, out who, out var recipientError))
        {
            errors.Add(new FieldError("recipient", recipientError));
        }

        if (errors.Count > 0)
        {
            AddErrors(errors);
            Response.StatusCode = 400;
            return Page();
        }

        var explained = await explain.ExplainAsync(Caller, new EventKey(eventScope, id), who, HttpContext.RequestAborted);
        if (explained.Refusal is { Kind: RefusalKind.NotFound } notFound)
        {
            // A search: the form stays, with the sentence (the same for an event of another scope).
            AddErrors([new FieldError("", notFound.Sentence)]);
            Response.StatusCode = 404;
            return Page();
        }

        if (explained.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Explanation = explained.Value;
        return Page();
    }
}
