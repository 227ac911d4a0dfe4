using Herald.Access;
using Herald.Notifications;
using Herald.Notifications.FanOut;
using Herald.Notifications.Matching;
using Herald.Notifications.Subscriptions;
using Herald.Scopes;
using Herald.Settings;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using static Herald.Web.ApiResults;

namespace Herald.Web.Notifications;

/// <summary><c>/api/v1/rules</c>: an administrator's routing of a scope's events to addresses,
/// users and groups, for administrator keys of the rule's scope.</summary>
public static class RulesApi
{
    private const string InvalidTitle = "The rule is not valid; nothing was saved.";

    public static RouteGroupBuilder MapRulesApi(this RouteGroupBuilder api)
    {
        var rules = api.MapGroup("/rules").WithTags("Notifications");
        rules.MapGet("/", ListAsync).WithSummary("Rules of the scopes this key administers (optionally one scope and below).");
        rules.MapPost("/", CreateAsync).WithSummary("Add a rule: event filter and recipients (addresses, user:…, group:…).");
        rules.MapGet("/{id}", GetAsync).WithSummary("One rule.");
        rules.MapPut("/{id}", PutAsync).WithSummary("Add or replace a rule.");
        rules.MapDelete("/{id}", DeleteAsync).WithSummary("Remove a rule.");
        rules.MapPost("/{id}/test", TestAsync).WithSummary("Send a sample notification of the rule's first event type to its recipients; returns how many were queued.");
        return api;
    }

    public sealed record RuleView(
        string Id, string Scope, string Name, IReadOnlyList<string> EventTypes, IReadOnlyList<string> PathPrefixes, IReadOnlyList<string> ChangeKinds,
        IReadOnlyList<SubscriptionsApi.ConditionView> Conditions, IReadOnlyList<string> Recipients, bool ExcludeActor, bool Enabled, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
    {
        public static RuleView From(NotificationRule r) => new(
            r.Id, r.Scope.Value, r.Name, r.Filter.EventTypes, r.Filter.PathPrefixes, r.Filter.ChangeKinds, SubscriptionsApi.SubscriptionView.ConditionsOf(r.Filter),
            r.Addresses.Select(a => a.Value).Concat(r.Recipients.Select(p => p.ToString())).ToArray(), r.ExcludeActor, r.Enabled, r.CreatedAt, r.UpdatedAt);
    }

    public sealed record TestResult(int Queued, int Duplicates);

    private static async Task<Results<Ok<RuleView[]>, ValidationProblem>> ListAsync(HttpContext context, string? scope, ISubscriptionRegistry store)
    {
        ScopePath? filter = null;
        if (scope is not null)
        {
            if (!ScopePath.TryParse(scope, out var path, out var error))
            {
                return Invalid([new FieldError("scope", error)], "The filter is not valid.");
            }

            filter = path;
        }

        var key = context.ApiKey();
        var rules = await store.ListRulesAsync(filter, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(rules.Where(r => key.Allows(r.Scope, ApiKeyRole.Admin)).Select(RuleView.From).ToArray());
    }

    private static async Task<Results<Ok<RuleView>, NotFound<ProblemDetails>, ProblemHttpResult>> GetAsync(HttpContext context, string id, ISubscriptionRegistry store)
    {
        if (await store.FindRuleAsync(id, context.RequestAborted).ConfigureAwait(false) is not { } rule)
        {
            return NotFound($"No rule '{id}'.");
        }

        return context.Refuse(rule.Scope, ApiKeyRole.Admin) is { } refusal ? refusal : TypedResults.Ok(RuleView.From(rule));
    }

    private static async Task<Results<Created<RuleView>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        HttpContext context, RuleRequest request, ISubscriptionRegistry store, SubscriptionService service, NotificationMatcher matcher, TimeProvider time)
    {
        var id = request.Id ?? $"rule-{Guid.CreateVersion7(time.GetUtcNow()):N}";
        if (await store.FindRuleAsync(id, context.RequestAborted).ConfigureAwait(false) is not null)
        {
            return Problem(StatusCodes.Status409Conflict, "Conflict", $"Rule '{id}' exists; change it with PUT /api/v1/rules/{id}.");
        }

        var (saved, invalid, refusal) = await SaveAsync(context, id, request, null, service, matcher, time).ConfigureAwait(false);
        return saved is not null ? TypedResults.Created($"/api/v1/rules/{saved.Id}", RuleView.From(saved)) : invalid is not null ? invalid : refusal!;
    }

    private static async Task<Results<Ok<RuleView>, ValidationProblem, ProblemHttpResult>> PutAsync(
        HttpContext context, string id, RuleRequest request, ISubscriptionRegistry store, SubscriptionService service, NotificationMatcher matcher, TimeProvider time)
    {
        var existing = await store.FindRuleAsync(id, context.RequestAborted).ConfigureAwait(false);
        if (existing is not null && context.Refuse(existing.Scope, ApiKeyRole.Admin) is { } existingRefusal)
        {
            return existingRefusal;
        }

        var (saved, invalid, refusal) = await SaveAsync(context, id, request, existing, service, matcher, time).ConfigureAwait(false);
        return saved is not null ? TypedResults.Ok(RuleView.From(saved)) : invalid is not null ? invalid : refusal!;
    }

    private static async Task<(NotificationRule? Saved, ValidationProblem? Invalid, ProblemHttpResult? Refusal)> SaveAsync(
        HttpContext context, string id, RuleRequest request, NotificationRule? existing, SubscriptionService service, NotificationMatcher matcher, TimeProvider time)
    {
        var errors = new List<FieldError>();
        var now = time.GetUtcNow();
        if (request.Id is not null && request.Id != id)
        {
            errors.Add(new FieldError("id", "The id in the body differs from the one in the path."));
        }

        SubscriptionRequests.CheckId(id, errors);
        var rule = SubscriptionRequests.Check(request, id, existing?.CreatedAt ?? now, now, errors);
        if (rule is null || errors.Count > 0)
        {
            return (null, Invalid(errors, InvalidTitle), null);
        }

        if (context.Refuse(rule.Scope, ApiKeyRole.Admin) is { } refusal)
        {
            return (null, null, refusal);
        }

        if (await service.SaveRuleAsync(rule, context.RequestAborted).ConfigureAwait(false) is { } refused)
        {
            return (null, Invalid([new FieldError(refused.Field, refused.Message)], InvalidTitle), null);
        }

        await matcher.RefreshAsync(context.RequestAborted).ConfigureAwait(false);
        return (rule, null, null);
    }

    private static async Task<Results<NoContent, NotFound<ProblemDetails>, ProblemHttpResult>> DeleteAsync(
        HttpContext context, string id, ISubscriptionRegistry store, NotificationMatcher matcher, TimeProvider time)
    {
        if (await store.FindRuleAsync(id, context.RequestAborted).ConfigureAwait(false) is not { } rule)
        {
            return NotFound($"No rule '{id}'.");
        }

        if (context.Refuse(rule.Scope, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        await store.RemoveRuleAsync(id, time.GetUtcNow(), context.RequestAborted).ConfigureAwait(false);
        await matcher.RefreshAsync(context.RequestAborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<TestResult>, NotFound<ProblemDetails>, ProblemHttpResult>> TestAsync(
        HttpContext context, string id, ISubscriptionRegistry store, [FromServices] NotificationFanOut fanOut, TimeProvider time)
    {
        if (await store.FindRuleAsync(id, context.RequestAborted).ConfigureAwait(false) is not { } rule)
        {
            return NotFound($"No rule '{id}'.");
        }

        if (context.Refuse(rule.Scope, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        var result = await fanOut.TestRuleAsync(rule, time.GetUtcNow(), context.RequestAborted).ConfigureAwait(false);
        return result.Problem is not null
            ? Problem(StatusCodes.Status422UnprocessableEntity, "The scope cannot send", result.Problem)
            : TypedResults.Ok(new TestResult(result.Stored, result.Duplicates));
    }
}
