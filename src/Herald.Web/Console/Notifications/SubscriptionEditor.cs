using Herald.Notifications;
using Herald.Notifications.Matching;
using Herald.Notifications.Subscriptions;
using Herald.Settings;

namespace Herald.Web.Console.Notifications;

/// <summary>
/// Saves and removes subscriptions and rules for the console with the same checks as
/// <c>/api/v1/subscriptions</c> and <c>/api/v1/rules</c> (<see cref="SubscriptionRequests"/>, the
/// scope exists, a subscription's owner exists and holds View on the scope), then refreshes this
/// node's match index so that the next event already sees the change. Every refusal is a field error.
/// </summary>
public sealed class SubscriptionEditor(ISubscriptionRegistry store, ISettingsStore settings, IDirectory directory, NotificationMatcher matcher, TimeProvider time)
{
    public async Task<(Subscription? Saved, IReadOnlyList<SettingsError> Errors)> SaveAsync(SubscriptionRequest request, Subscription? existing, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<SettingsError>();
        var now = time.GetUtcNow();
        var id = existing?.Id ?? request.Id ?? $"sub-{Guid.CreateVersion7(now):N}";
        if (!SubscriptionRequests.CheckId(id, errors))
        {
            return (null, errors);
        }

        if (existing is null && await store.FindAsync(id, cancellationToken).ConfigureAwait(false) is not null)
        {
            return (null, [new SettingsError("id", $"Subscription '{id}' exists already: pick another id, or edit that one.")]);
        }

        var subscription = SubscriptionRequests.Check(request with { Id = id }, id, existing?.CreatedAt ?? now, now, errors);
        if (subscription is null || errors.Count > 0)
        {
            return (null, errors);
        }

        if (!await settings.ScopeExistsAsync(subscription.Scope, cancellationToken).ConfigureAwait(false))
        {
            return (null, [new SettingsError("scope", $"Scope {subscription.Scope} does not exist.")]);
        }

        // Only people who may see a scope's items may subscribe to them (SharePoint's rule).
        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        var owner = subscription.Owner;
        var exists = owner.Kind == PrincipalKind.User ? view.FindUser(owner.Id) is not null : view.FindGroup(owner.Id) is not null;
        if (!exists)
        {
            return (null, [new SettingsError("owner", $"There is no {owner} in the directory.")]);
        }

        var access = owner.Kind == PrincipalKind.User ? view.AccessOf(owner.Id, subscription.Scope) : view.GroupAccessOf(owner.Id, subscription.Scope);
        if (access is null)
        {
            return (null, [new SettingsError("owner", $"{owner} has no View permission on {subscription.Scope}: only people and groups who may see a scope's items can subscribe to them. Grant View on the Access page first.")]);
        }

        await store.SaveAsync(subscription, cancellationToken).ConfigureAwait(false);
        await matcher.RefreshAsync(cancellationToken).ConfigureAwait(false);
        return (subscription, []);
    }

    public async Task<(NotificationRule? Saved, IReadOnlyList<SettingsError> Errors)> SaveRuleAsync(RuleRequest request, NotificationRule? existing, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<SettingsError>();
        var now = time.GetUtcNow();
        var id = existing?.Id ?? request.Id ?? $"rule-{Guid.CreateVersion7(now):N}";
        if (!SubscriptionRequests.CheckId(id, errors))
        {
            return (null, errors);
        }

        if (existing is null && await store.FindRuleAsync(id, cancellationToken).ConfigureAwait(false) is not null)
        {
            return (null, [new SettingsError("id", $"Rule '{id}' exists already: pick another id, or edit that one.")]);
        }

        var rule = SubscriptionRequests.Check(request with { Id = id }, id, existing?.CreatedAt ?? now, now, errors);
        if (rule is null || errors.Count > 0)
        {
            return (null, errors);
        }

        if (!await settings.ScopeExistsAsync(rule.Scope, cancellationToken).ConfigureAwait(false))
        {
            return (null, [new SettingsError("scope", $"Scope {rule.Scope} does not exist.")]);
        }

        // A rule naming someone who is not in the directory would send them nothing, silently.
        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        foreach (var principal in rule.Recipients)
        {
            if (principal.Kind == PrincipalKind.User ? view.FindUser(principal.Id) is null : view.FindGroup(principal.Id) is null)
            {
                errors.Add(new SettingsError("recipients", $"There is no {principal} in the directory."));
            }
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        await store.SaveRuleAsync(rule, cancellationToken).ConfigureAwait(false);
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
