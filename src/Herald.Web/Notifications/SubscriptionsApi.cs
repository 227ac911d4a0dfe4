using Herald.Notifications;
using Herald.Notifications.Subscriptions;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using static Herald.Web.ApiResults;

namespace Herald.Web.Notifications;

/// <summary><c>/api/v1/subscriptions</c>: alerts of users and groups, managed by the applications
/// that hold a sender or administrator key of the subscription's scope (a portal subscribing its
/// users). The owner must hold View on the scope. Every rule is <see cref="SubscriptionService"/>'s;
/// a subscription of another scope answers 404, as one that does not exist.</summary>
public static class SubscriptionsApi
{
    public static RouteGroupBuilder MapSubscriptionsApi(this RouteGroupBuilder api)
    {
        var subscriptions = api.MapGroup("/subscriptions").WithTags("Notifications");
        subscriptions.MapGet("/", ListAsync).WithName("listSubscriptions").WithSummary("List subscriptions")
            .WithDescription("Subscriptions in the key's scopes; filter by owner (user:… or group:…) and scope (and below).");
        subscriptions.MapPost("/", CreateAsync).WithName("createSubscription").ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Create a subscription")
            .WithDescription("Subscribe a user or group; the owner needs View on the scope.");
        subscriptions.MapPost("/test", TestDraftAsync).WithName("testSubscriptionDraft").WithSummary("Test a subscription before saving it")
            .WithDescription("The body the create route takes, checked the same way; a sample (a digest for daily and weekly) goes to each recipient now (at most 50), and the server's answer for each is returned. Nothing is stored.");
        subscriptions.MapGet("/{id}", GetAsync).WithName("getSubscription").WithSummary("Get a subscription")
            .WithDescription("One subscription.");
        subscriptions.MapPut("/{id}", PutAsync).WithName("putSubscription").ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Add or replace a subscription")
            .WithDescription("Add or replace a subscription.");
        subscriptions.MapDelete("/{id}", DeleteAsync).WithName("deleteSubscription").WithSummary("Remove a subscription")
            .WithDescription("Remove a subscription.");
        subscriptions.MapPut("/{id}/opt-outs/{userId}", OptOutAsync).WithName("optOutOfSubscription").WithSummary("Opt a member out of a group's subscription")
            .WithDescription("A member opts out of a group's subscription.");
        subscriptions.MapDelete("/{id}/opt-outs/{userId}", OptInAsync).WithName("optInToSubscription").WithSummary("Opt a member back in to a group's subscription")
            .WithDescription("A member who opted out receives the group's subscription again.");
        return api;
    }

    public sealed record ConditionView(string Field, string Operator, IReadOnlyList<string> Values);

    public sealed record SubscriptionView(
        string Id, string Scope, string Owner, string Name, IReadOnlyList<string> EventTypes, IReadOnlyList<string> PathPrefixes,
        IReadOnlyList<string> ChangeKinds, IReadOnlyList<ConditionView> Conditions, string Frequency, string? At, string? Day,
        bool ExcludeActor, bool Enabled, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
    {
        public static SubscriptionView From(Subscription s) => new(
            s.Id, s.Scope.Value, s.Owner.ToString(), s.Name, s.Filter.EventTypes, s.Filter.PathPrefixes, s.Filter.ChangeKinds,
            ConditionsOf(s.Filter), NotificationFrequencyNames.Values.NameOf(s.Schedule.Frequency),
            s.Schedule.Frequency == NotificationFrequency.Immediate ? null : s.Schedule.At.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture),
            s.Schedule.Frequency == NotificationFrequency.Weekly ? s.Schedule.Day.ToString().ToLowerInvariant() : null,
            s.ExcludeActor, s.Enabled, s.CreatedAt, s.UpdatedAt);

        public static ConditionView[] ConditionsOf(EventFilter filter) =>
            filter.Conditions.Select(c => new ConditionView(c.Field, ConditionOperatorNames.Values.NameOf(c.Operator), c.Values)).ToArray();
    }

    private static async Task<Results<Ok<SubscriptionView[]>, ProblemHttpResult>> ListAsync(HttpContext context, string? owner, string? scope, SubscriptionService service)
    {
        var found = await service.ListAsync(context.Caller(), owner, scope, context.RequestAborted).ConfigureAwait(false);
        return found.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(found.Value!.Select(SubscriptionView.From).ToArray());
    }

    private static async Task<Results<Ok<SubscriptionView>, ProblemHttpResult>> GetAsync(HttpContext context, string id, SubscriptionService service)
    {
        var found = await service.FindAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false);
        return found.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(SubscriptionView.From(found.Value!));
    }

    private static async Task<Results<Ok<RulesApi.TestView>, ProblemHttpResult>> TestDraftAsync(HttpContext context, SubscriptionRequest request, SubscriptionService service) =>
        RulesApi.Tested(await service.TestDraftAsync(context.Caller(), request, context.RequestAborted).ConfigureAwait(false));

    private static async Task<Results<Created<SubscriptionView>, ProblemHttpResult>> CreateAsync(HttpContext context, SubscriptionRequest request, SubscriptionService service)
    {
        var saved = await service.CreateAsync(context.Caller(), request, context.RequestAborted).ConfigureAwait(false);
        return saved.Refusal is { } refusal
            ? Refused(refusal)
            : TypedResults.Created($"/api/v1/subscriptions/{saved.Value!.Value.Id}", SubscriptionView.From(saved.Value.Value));
    }

    private static async Task<Results<Ok<SubscriptionView>, Created<SubscriptionView>, ProblemHttpResult>> PutAsync(
        HttpContext context, string id, SubscriptionRequest request, SubscriptionService service)
    {
        var saved = await service.PutAsync(context.Caller(), id, request, context.RequestAborted).ConfigureAwait(false);
        if (saved.Refusal is { } refusal)
        {
            return Refused(refusal);
        }

        var view = SubscriptionView.From(saved.Value!.Value);
        return saved.Value.Created ? TypedResults.Created($"/api/v1/subscriptions/{view.Id}", view) : TypedResults.Ok(view);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(HttpContext context, string id, SubscriptionService service) =>
        await service.RemoveAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false) is { } refusal ? Refused(refusal) : TypedResults.NoContent();

    private static async Task<Results<NoContent, ProblemHttpResult>> OptOutAsync(HttpContext context, string id, string userId, SubscriptionService service) =>
        await service.SetOptOutAsync(context.Caller(), id, userId, optOut: true, context.RequestAborted).ConfigureAwait(false) is { } refusal
            ? Refused(refusal)
            : TypedResults.NoContent();

    private static async Task<Results<NoContent, ProblemHttpResult>> OptInAsync(HttpContext context, string id, string userId, SubscriptionService service) =>
        await service.SetOptOutAsync(context.Caller(), id, userId, optOut: false, context.RequestAborted).ConfigureAwait(false) is { } refusal
            ? Refused(refusal)
            : TypedResults.NoContent();
}
