using Herald.Notifications;
using Herald.Notifications.Matching;
using Herald.Notifications.Subscriptions;
using Herald.Settings;

namespace Herald.Web.Console.Notifications;

/// <summary>
/// Saves and removes subscriptions and rules for the console through the same checks as
/// <c>/api/v1/subscriptions</c> and <c>/api/v1/rules</c> (<see cref="SubscriptionRequests"/> and
/// <see cref="SubscriptionService"/>), plus the console's own: a new id must be free, and a rule's
/// users and groups must be in the directory. Then it refreshes this node's match index so that the
/// next event already sees the change. Every refusal is a field error.
/// </summary>
public sealed class SubscriptionEditor(ISubscriptionRegistry store, SubscriptionService service, IDirectory directory, NotificationMatcher matcher, TimeProvider time)
{
    public async Task<(Subscription? Saved, IReadOnlyList<FieldError> Errors)> SaveAsync(SubscriptionRequest request, Subscription? existing, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<FieldError>();
        var now = time.GetUtcNow();
        var id = existing?.Id ?? request.Id ?? $"sub-{Guid.CreateVersion7(now):N}";
        if (!SubscriptionRequests.CheckId(id, errors))
        {
            return (null, errors);
        }

        if (existing is null && await store.FindAsync(id, cancellationToken).ConfigureAwait(false) is not null)
        {
            return (null, [new FieldError("id", $"Subscription '{id}' exists already: pick another id, or edit that one.")]);
        }

        var subscription = SubscriptionRequests.Check(request with { Id = id }, id, existing?.CreatedAt ?? now, now, errors);
        if (subscription is null || errors.Count > 0)
        {
            return (null, errors);
        }

        if (await service.SaveAsync(subscription, cancellationToken).ConfigureAwait(false) is { } refused)
        {
            return (null, [new FieldError(refused.Field, refused.OwnerCannotView ? refused.Message + " Grant View on the Access page first." : refused.Message)]);
        }

        await matcher.RefreshAsync(cancellationToken).ConfigureAwait(false);
        return (subscription, []);
    }

    public async Task<(NotificationRule? Saved, IReadOnlyList<FieldError> Errors)> SaveRuleAsync(RuleRequest request, NotificationRule? existing, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<FieldError>();
        var now = time.GetUtcNow();
        var id = existing?.Id ?? request.Id ?? $"rule-{Guid.CreateVersion7(now):N}";
        if (!SubscriptionRequests.CheckId(id, errors))
        {
            return (null, errors);
        }

        if (existing is null && await store.FindRuleAsync(id, cancellationToken).ConfigureAwait(false) is not null)
        {
            return (null, [new FieldError("id", $"Rule '{id}' exists already: pick another id, or edit that one.")]);
        }

        var rule = SubscriptionRequests.Check(request with { Id = id }, id, existing?.CreatedAt ?? now, now, errors);
        if (rule is null || errors.Count > 0)
        {
            return (null, errors);
        }

        // A rule naming someone who is not in the directory would send them nothing, silently.
        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        foreach (var principal in rule.Recipients)
        {
            if (principal.Kind == PrincipalKind.User ? view.FindUser(principal.Id) is null : view.FindGroup(principal.Id) is null)
            {
                errors.Add(new FieldError("recipients", $"There is no {principal} in the directory."));
            }
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        if (await service.SaveRuleAsync(rule, cancellationToken).ConfigureAwait(false) is { } refused)
        {
            return (null, [new FieldError(refused.Field, refused.Message)]);
        }

        await matcher.RefreshAsync(cancellationToken).ConfigureAwait(false);
        return (rule, []);
    }

    public async Task<bool> RemoveAsync(string id, CancellationToken cancellationToken)
    {
        var removed = await store.RemoveAsync(id, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        await matcher.RefreshAsync(cancellationToken).ConfigureAwait(false);
        return removed;
    }

    public async Task<bool> RemoveRuleAsync(string id, CancellationToken cancellationToken)
    {
        var removed = await store.RemoveRuleAsync(id, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        await matcher.RefreshAsync(cancellationToken).ConfigureAwait(false);
        return removed;
    }
}
