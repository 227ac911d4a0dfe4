using Herald.Access;
using Herald.Notifications;
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

/// <summary><c>/api/v1/subscriptions</c>: alerts of users and groups, managed by the applications
/// that hold a sender or administrator key of the subscription's scope (a portal subscribing its
/// users). The owner must hold View on the scope.</summary>
public static class SubscriptionsApi
{
    private const string InvalidTitle = "The subscription is not valid; nothing was saved.";

    public static RouteGroupBuilder MapSubscriptionsApi(this RouteGroupBuilder api)
    {
        var subscriptions = api.MapGroup("/subscriptions").WithTags("Notifications");
        subscriptions.MapGet("/", ListAsync).WithSummary("Subscriptions in the key's scopes; filter by owner (user:… or group:…) and scope (and below).");
        subscriptions.MapPost("/", CreateAsync).WithSummary("Subscribe a user or group; the owner needs View on the scope.");
        subscriptions.MapGet("/{id}", GetAsync).WithSummary("One subscription.");
        subscriptions.MapPut("/{id}", PutAsync).WithSummary("Add or replace a subscription.");
        subscriptions.MapDelete("/{id}", DeleteAsync).WithSummary("Remove a subscription.");
        subscriptions.MapPut("/{id}/opt-outs/{userId}", OptOutAsync).WithSummary("A member opts out of a group's subscription.");
        subscriptions.MapDelete("/{id}/opt-outs/{userId}", OptInAsync).WithSummary("A member who opted out receives the group's subscription again.");
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

    private static async Task<Results<Ok<SubscriptionView[]>, ValidationProblem>> ListAsync(HttpContext context, string? owner, string? scope, ISubscriptionRegistry store)
    {
        var errors = new List<FieldError>();
        Principal? ownerFilter = null;
        if (owner is not null)
        {
            if (Principal.TryParse(owner, out var principal, out var error))
            {
                ownerFilter = principal;
            }
            else
            {
                errors.Add(new FieldError("owner", error));
            }
        }

        ScopePath? scopeFilter = null;
        if (scope is not null)
        {
            if (ScopePath.TryParse(scope, out var path, out var error))
            {
                scopeFilter = path;
            }
            else
            {
                errors.Add(new FieldError("scope", error));
            }
        }

        if (errors.Count > 0)
        {
            return Invalid(errors, "The filter is not valid.");
        }

        var key = context.ApiKey();
        var found = await store.ListAsync(ownerFilter, scopeFilter, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(found.Where(s => key.Allows(s.Scope, ApiKeyRole.Sender)).Select(SubscriptionView.From).ToArray());
    }

    private static async Task<Results<Ok<SubscriptionView>, NotFound<ProblemDetails>, ProblemHttpResult>> GetAsync(HttpContext context, string id, ISubscriptionRegistry store)
    {
        if (await store.FindAsync(id, context.RequestAborted).ConfigureAwait(false) is not { } subscription)
        {
            return NotFound($"No subscription '{id}'.");
        }

        return context.Refuse(subscription.Scope, ApiKeyRole.Sender) is { } refusal ? refusal : TypedResults.Ok(SubscriptionView.From(subscription));
    }

    private static async Task<Results<Created<SubscriptionView>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        HttpContext context, SubscriptionRequest request, ISubscriptionRegistry store, SubscriptionService service, NotificationMatcher matcher, TimeProvider time)
    {
        var id = request.Id ?? $"sub-{Guid.CreateVersion7(time.GetUtcNow()):N}";
        if (await store.FindAsync(id, context.RequestAborted).ConfigureAwait(false) is not null)
        {
            return Problem(StatusCodes.Status409Conflict, "Conflict", $"Subscription '{id}' exists; change it with PUT /api/v1/subscriptions/{id}.");
        }

        var (saved, invalid, refusal) = await SaveAsync(context, id, request, null, service, matcher, time).ConfigureAwait(false);
        return saved is not null ? TypedResults.Created($"/api/v1/subscriptions/{saved.Id}", SubscriptionView.From(saved)) : invalid is not null ? invalid : refusal!;
    }

    private static async Task<Results<Ok<SubscriptionView>, ValidationProblem, ProblemHttpResult>> PutAsync(
        HttpContext context, string id, SubscriptionRequest request, ISubscriptionRegistry store, SubscriptionService service, NotificationMatcher matcher, TimeProvider time)
    {
        var existing = await store.FindAsync(id, context.RequestAborted).ConfigureAwait(false);
        if (existing is not null && context.Refuse(existing.Scope, ApiKeyRole.Sender) is { } existingRefusal)
        {
            return existingRefusal;
        }

        var (saved, invalid, refusal) = await SaveAsync(context, id, request with { Id = id }, existing, service, matcher, time).ConfigureAwait(false);
        return saved is not null ? TypedResults.Ok(SubscriptionView.From(saved)) : invalid is not null ? invalid : refusal!;
    }

    private static async Task<(Subscription? Saved, ValidationProblem? Invalid, ProblemHttpResult? Refusal)> SaveAsync(
        HttpContext context, string id, SubscriptionRequest request, Subscription? existing, SubscriptionService service, NotificationMatcher matcher, TimeProvider time)
    {
        var errors = new List<FieldError>();
        var now = time.GetUtcNow();
        if (request.Id is not null && id != request.Id)
        {
            errors.Add(new FieldError("id", "The id in the body differs from the one in the path."));
        }

        SubscriptionRequests.CheckId(id, errors);
        var subscription = SubscriptionRequests.Check(request, id, existing?.CreatedAt ?? now, now, errors);
        if (subscription is null || errors.Count > 0)
        {
            return (null, Invalid(errors, InvalidTitle), null);
        }

        if (context.Refuse(subscription.Scope, ApiKeyRole.Sender) is { } refusal)
        {
            return (null, null, refusal);
        }

        if (await service.SaveAsync(subscription, context.RequestAborted).ConfigureAwait(false) is { } refused)
        {
            return refused.OwnerCannotView
                ? (null, null, Problem(StatusCodes.Status403Forbidden, "The owner may not see this scope", refused.Message))
                : (null, Invalid([new FieldError(refused.Field, refused.Message)], InvalidTitle), null);
        }

        await matcher.RefreshAsync(context.RequestAborted).ConfigureAwait(false);
        return (subscription, null, null);
    }

    private static async Task<Results<NoContent, NotFound<ProblemDetails>, ProblemHttpResult>> DeleteAsync(
        HttpContext context, string id, ISubscriptionRegistry store, NotificationMatcher matcher, TimeProvider time)
    {
        if (await store.FindAsync(id, context.RequestAborted).ConfigureAwait(false) is not { } subscription)
        {
            return NotFound($"No subscription '{id}'.");
        }

        if (context.Refuse(subscription.Scope, ApiKeyRole.Sender) is { } refusal)
        {
            return refusal;
        }

        await store.RemoveAsync(id, time.GetUtcNow(), context.RequestAborted).ConfigureAwait(false);
        await matcher.RefreshAsync(context.RequestAborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static async Task<Results<NoContent, NotFound<ProblemDetails>, ValidationProblem, ProblemHttpResult>> OptOutAsync(
        HttpContext context, string id, string userId, ISubscriptionRegistry store, [FromServices] IDirectory directory, TimeProvider time)
    {
        var (subscription, refusal) = await GroupSubscriptionAsync(context, id, store).ConfigureAwait(false);
        if (subscription is null)
        {
            return refusal!;
        }

        var view = await directory.CurrentAsync(context.RequestAborted).ConfigureAwait(false);
        if (!view.MembersOf(subscription.Owner.Id).Any(m => m.Id == userId))
        {
            return Invalid([new FieldError("userId", $"'{userId}' is not a member of {subscription.Owner}, so there is nothing to opt out of.")], "Nothing was changed.");
        }

        await store.AddOptOutAsync(new NotificationOrigin(NotificationSourceKind.Subscription, id, userId), time.GetUtcNow(), context.RequestAborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static async Task<Results<NoContent, NotFound<ProblemDetails>, ValidationProblem, ProblemHttpResult>> OptInAsync(
        HttpContext context, string id, string userId, ISubscriptionRegistry store)
    {
        var (subscription, refusal) = await GroupSubscriptionAsync(context, id, store).ConfigureAwait(false);
        if (subscription is null)
        {
            return refusal!;
        }

        return await store.RemoveOptOutAsync(new NotificationOrigin(NotificationSourceKind.Subscription, id, userId), context.RequestAborted).ConfigureAwait(false)
            ? TypedResults.NoContent()
            : NotFound($"'{userId}' has not opted out of subscription '{id}'.");
    }

    private static async Task<(Subscription? Subscription, Results<NoContent, NotFound<ProblemDetails>, ValidationProblem, ProblemHttpResult>? Refusal)> GroupSubscriptionAsync(
        HttpContext context, string id, ISubscriptionRegistry store)
    {
        if (await store.FindAsync(id, context.RequestAborted).ConfigureAwait(false) is not { } subscription)
        {
            return (null, NotFound($"No subscription '{id}'."));
        }

        if (context.Refuse(subscription.Scope, ApiKeyRole.Sender) is { } refusal)
        {
            return (null, refusal);
        }

        if (subscription.Owner.Kind != PrincipalKind.Group)
        {
            return (null, Invalid([new FieldError("id", $"Subscription '{id}' is {subscription.Owner}'s own: disable or remove it instead of opting out.")], "Nothing was changed."));
        }

        return (subscription, null);
    }
}
