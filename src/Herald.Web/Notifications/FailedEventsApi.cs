using Herald.Notifications;
using Herald.Scopes;
using Herald.Web.Security;
using Herald.Work;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using static Herald.Web.ApiResults;

namespace Herald.Web.Notifications;

/// <summary><c>GET /api/v1/events?state=failed</c> and <c>POST /api/v1/events/{id}/retry?scope=</c>:
/// events whose fan-out is quarantined, for administrators of their scope.</summary>
public static class FailedEventsApi
{
    public static RouteGroupBuilder MapFailedEventsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/events", ListAsync).WithTags("Notifications")
            .WithName("listFailedEvents").WithSummary("List quarantined events")
            .WithDescription("Events in the key's scopes (or ?scope= and below) whose fan-out failed and is quarantined (?state=failed), newest first, with the reason (administrators).");
        api.MapPost("/events/{id}/retry", RetryAsync).WithTags("Notifications")
            .WithName("retryEvent").ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Retry a quarantined event")
            .WithDescription("Fan a quarantined event out again, as if just posted (administrators of its scope, named by ?scope=).");
        return api;
    }

    public sealed record FailedEventView(string Scope, string Id, string Type, string Title, DateTimeOffset ReceivedAt, int Failures, string? LastError)
    {
        public static FailedEventView From(FailedEvent e) =>
            new(e.Key.Scope.Value, e.Key.Id, e.Type, e.Title, e.ReceivedAt, e.Failures, e.LastError);
    }

    private static async Task<Results<Ok<IReadOnlyList<FailedEventView>>, ValidationProblem, ProblemHttpResult>> ListAsync(
        HttpContext context, FailedWorkService failed, string? state, string? scope, int? limit)
    {
        var errors = new List<FieldError>();
        if (state != "failed")
        {
            errors.Add(new FieldError("state", "Only failed events are listed: ?state=failed."));
        }

        var target = context.ApiKey().Scope;
        if (scope is not null && !ScopePath.TryParse(scope, out target, out var scopeError))
        {
            errors.Add(new FieldError("scope", scopeError));
        }

        if (errors.Count > 0)
        {
            return Invalid(errors, "The query is not valid.");
        }

        var listed = await failed.ListEventsAsync(context.Caller(), target, limit ?? 100, context.RequestAborted).ConfigureAwait(false);
        return listed.Refusal is { } refusal
            ? Refused(refusal)
            : TypedResults.Ok<IReadOnlyList<FailedEventView>>(listed.Value!.Select(FailedEventView.From).ToArray());
    }

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> RetryAsync(HttpContext context, FailedWorkService failed, string id, string? scope)
    {
        if (!ScopePath.TryParse(scope, out var eventScope, out var scopeError))
        {
            return Invalid([new FieldError("scope", $"An event is named by its scope and its id: ?scope=/hr. {scopeError}")], "The request is not valid.");
        }

        return await failed.RetryEventAsync(context.Caller(), new EventKey(eventScope, id), context.RequestAborted).ConfigureAwait(false) is { } refusal
            ? Refused(refusal)
            : TypedResults.NoContent();
    }
}
