using Herald.Notifications;
using Herald.Notifications.Explain;
using Herald.Scopes;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using static Herald.Web.ApiResults;

namespace Herald.Web.Notifications;

/// <summary><c>GET /api/v1/events/{id}/explain?scope=&amp;recipient=</c>: why each candidate did or
/// did not get mail about an event, for administrators of its scope.</summary>
public static class ExplainApi
{
    public static RouteGroupBuilder MapExplainApi(this RouteGroupBuilder api)
    {
        api.MapGet("/events/{id}/explain", ExplainAsync).WithTags("Notifications")
            .WithName("explainEvent").WithSummary("Explain who got mail about an event, and why")
            .WithDescription(
                "Every subscription and rule that matched the event (named by ?scope= and its id) and what happened to each candidate recipient: "
                + "mailed (with the message and its delivery), no View, opted out, the actor, already reached through another source, suppressed (the entry), "
                + "waiting for a digest (the window) or the scope's email turned off. ?recipient= (a user id or an email address) answers for one person. "
                + "At most 1,000 candidates are listed; counts cover all. Kept for Notifications:ExplainRetention (7 days by default); administrators of the event's scope.");
        return api;
    }

    public sealed record ExplainedEventView(string Scope, string Id, string Type, string Title, string? Actor, DateTimeOffset ReceivedAt);

    public sealed record SourceView(int Number, string Kind, string Id, string Name, string Frequency);

    public sealed record DeliveryView(string MessageId, string State, int Attempts, string? LastReply, DateTimeOffset UpdatedAt);

    public sealed record CandidateView(
        string Address, string? UserId, string Outcome, int Source, int? AlreadyReachedThrough, string? Detail, string? MessageId, string Reason, DeliveryView? Delivery);

    public sealed record ExplanationView(
        ExplainedEventView Event,
        DateTimeOffset RecordedAt,
        string? Recipient,
        string? Disabled,
        IReadOnlyDictionary<string, int> Counts,
        IReadOnlyList<SourceView> Sources,
        IReadOnlyList<CandidateView> Candidates)
    {
        public static ExplanationView From(EventExplanation e) => new(
            new ExplainedEventView(e.Event.Scope.Value, e.Event.Id, e.Event.Type, e.Event.Title, e.Event.Actor, e.Event.ReceivedAt),
            e.RecordedAt,
            e.Recipient,
            e.Disabled,
            e.Counts.OrderBy(c => c.Key).ToDictionary(c => CandidateOutcomeNames.Values.NameOf(c.Key), c => c.Value),
            [.. e.Sources.Select(s => new SourceView(s.Number, SourceKindName(s.Kind), s.Id, s.Name, s.Frequency))],
            [.. e.Candidates.Select(c => new CandidateView(
                c.Record.Address,
                c.Record.UserId,
                CandidateOutcomeNames.Values.NameOf(c.Record.Outcome),
                c.Record.Source,
                c.Record.Other,
                c.Record.Detail,
                c.Record.MessageId,
                e.Reason(c),
                c.Delivery is { } d ? new DeliveryView(d.MessageId, Herald.Outbox.RecipientStateNames.Values.NameOf(d.State), d.Attempts, d.LastReply, d.UpdatedAt) : null))]);

        private static string SourceKindName(NotificationSourceKind kind) => kind switch
        {
            NotificationSourceKind.Rule => "rule",
            NotificationSourceKind.Administrative => "administrators",
            _ => "subscription",
        };
    }

    private static async Task<Results<Ok<ExplanationView>, ValidationProblem, ProblemHttpResult>> ExplainAsync(
        HttpContext context, ExplainService explain, string id, string? scope, string? recipient)
    {
        var errors = new List<FieldError>();
        if (!ScopePath.TryParse(scope, out var eventScope, out var scopeError))
        {
            errors.Add(new FieldError("scope", $"An event is named by its scope and its id: ?scope=/hr. {scopeError}"));
        }

        ExplainRecipient? who = null;
        if (recipient is not null && !ExplainRecipient.TryParse(recipient, out who, out var recipientError))
        {
            errors.Add(new FieldError("recipient", recipientError));
        }

        if (errors.Count > 0)
        {
            return Invalid(errors, "The request is not valid.");
        }

        var explained = await explain.ExplainAsync(context.Caller(), new EventKey(eventScope, id), who, context.RequestAborted).ConfigureAwait(false);
        return explained.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(ExplanationView.From(explained.Value!));
    }
}
