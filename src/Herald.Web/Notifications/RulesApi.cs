using Herald.Notifications;
using Herald.Notifications.Subscriptions;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using static Herald.Web.ApiResults;

namespace Herald.Web.Notifications;

/// <summary><c>/api/v1/rules</c>: an administrator's routing of a scope's events to addresses,
/// users and groups, for administrator keys of the rule's scope. Every rule is
/// <see cref="RuleService"/>'s; a rule of another scope answers 404, as one that does not exist.</summary>
public static class RulesApi
{
    public static RouteGroupBuilder MapRulesApi(this RouteGroupBuilder api)
    {
        var rules = api.MapGroup("/rules").WithTags("Notifications");
        rules.MapGet("/", ListAsync).WithName("listRules").WithSummary("List rules")
            .WithDescription("Rules of the scopes this key administers (optionally one scope and below).");
        rules.MapPost("/", CreateAsync).WithName("createRule").ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Create a rule")
            .WithDescription("Add a rule: event filter and recipients (addresses, user:…, group:…).");
        rules.MapPost("/test", TestDraftAsync).WithName("testRuleDraft").WithSummary("Test a rule before saving it")
            .WithDescription("The body the create route takes, checked the same way; a sample goes to each recipient now (at most 50), and the server's answer for each is returned. Nothing is stored.");
        rules.MapGet("/{id}", GetAsync).WithName("getRule").WithSummary("Get a rule")
            .WithDescription("One rule.");
        rules.MapPut("/{id}", PutAsync).WithName("putRule").ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Add or replace a rule")
            .WithDescription("Add or replace a rule.");
        rules.MapDelete("/{id}", DeleteAsync).WithName("deleteRule").WithSummary("Remove a rule")
            .WithDescription("Remove a rule.");
        rules.MapPost("/{id}/test", TestAsync).WithName("testRule").WithSummary("Test a saved rule")
            .WithDescription("Send a sample notification of the saved rule's first event type to each of its recipients now (at most 50); returns the server's answer for each.");
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

    /// <summary>A rule's or subscription's test: <c>problem</c> when nothing was sent (the scope
    /// cannot send), else the outcome per recipient (<c>accepted</c>, <c>deferred</c>,
    /// <c>refused</c>) with the server's reply; <c>reached</c> counts every recipient it reaches
    /// now, <c>note</c> says when not all of them were tried.</summary>
    public sealed record TestView(string? Problem, int Reached, IReadOnlyList<RecipientTestResult> Recipients, string? Note)
    {
        public static TestView From(NotificationTestResult result) => new(result.Problem, result.Reached, result.Recipients, result.Note);
    }

    private static async Task<Results<Ok<RuleView[]>, ProblemHttpResult>> ListAsync(HttpContext context, string? scope, RuleService service)
    {
        var found = await service.ListAsync(context.Caller(), scope, context.RequestAborted).ConfigureAwait(false);
        return found.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(found.Value!.Select(RuleView.From).ToArray());
    }

    private static async Task<Results<Ok<RuleView>, ProblemHttpResult>> GetAsync(HttpContext context, string id, RuleService service)
    {
        var found = await service.FindAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false);
        return found.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(RuleView.From(found.Value!));
    }

    private static async Task<Results<Created<RuleView>, ProblemHttpResult>> CreateAsync(HttpContext context, RuleRequest request, RuleService service)
    {
        var saved = await service.CreateAsync(context.Caller(), request, context.RequestAborted).ConfigureAwait(false);
        return saved.Refusal is { } refusal
            ? Refused(refusal)
            : TypedResults.Created($"/api/v1/rules/{saved.Value!.Value.Id}", RuleView.From(saved.Value.Value));
    }

    private static async Task<Results<Ok<RuleView>, Created<RuleView>, ProblemHttpResult>> PutAsync(HttpContext context, string id, RuleRequest request, RuleService service)
    {
        var saved = await service.PutAsync(context.Caller(), id, request, context.RequestAborted).ConfigureAwait(false);
        if (saved.Refusal is { } refusal)
        {
            return Refused(refusal);
        }

        var view = RuleView.From(saved.Value!.Value);
        return saved.Value.Created ? TypedResults.Created($"/api/v1/rules/{view.Id}", view) : TypedResults.Ok(view);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(HttpContext context, string id, RuleService service) =>
        await service.RemoveAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false) is { } refusal ? Refused(refusal) : TypedResults.NoContent();

    private static async Task<Results<Ok<TestView>, ProblemHttpResult>> TestAsync(HttpContext context, string id, RuleService service) =>
        Tested(await service.TestAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false));

    private static async Task<Results<Ok<TestView>, ProblemHttpResult>> TestDraftAsync(HttpContext context, RuleRequest request, RuleService service) =>
        Tested(await service.TestDraftAsync(context.Caller(), request, context.RequestAborted).ConfigureAwait(false));

    internal static Results<Ok<TestView>, ProblemHttpResult> Tested(Result<NotificationTestResult> tested) =>
        tested.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(TestView.From(tested.Value!));
}
