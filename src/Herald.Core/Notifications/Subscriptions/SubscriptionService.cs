using Herald.Settings;

namespace Herald.Notifications.Subscriptions;

/// <summary>Why a subscription or rule that passed its field checks was not saved.</summary>
/// <param name="OwnerCannotView">The subscription's owner exists but holds no View on its scope.</param>
public sealed record SaveRefusal(string Field, string Message, bool OwnerCannotView = false);

/// <summary>
/// The one place that decides whether a subscription or rule may be stored, for the API, the
/// console and the CLI alike: the scope must exist, and a subscription's owner must be in the
/// directory and hold View on the scope (only people who may see a scope's items may subscribe to
/// them, SharePoint's rule). Callers that serve refresh their match index afterwards.
/// </summary>
public sealed class SubscriptionService(ISubscriptionRegistry store, ISettingsStore settings, IDirectory directory)
{
    public async Task<SaveRefusal?> SaveAsync(Subscription subscription, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        if (!await settings.ScopeExistsAsync(subscription.Scope, cancellationToken).ConfigureAwait(false))
        {
            return new SaveRefusal("scope", $"Scope {subscription.Scope} does not exist.");
        }

        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        var owner = subscription.Owner;
        var exists = owner.Kind == PrincipalKind.User ? view.FindUser(owner.Id) is not null : view.FindGroup(owner.Id) is not null;
        if (!exists)
        {
            return new SaveRefusal("owner", $"There is no {owner} in the directory.");
        }

        var access = owner.Kind == PrincipalKind.User ? view.AccessOf(owner.Id, subscription.Scope) : view.GroupAccessOf(owner.Id, subscription.Scope);
        if (access is null)
        {
            return new SaveRefusal("owner",
                $"{owner} has no View permission on {subscription.Scope}: only people and groups who may see a scope's items can subscribe to them.", OwnerCannotView: true);
        }

        await store.SaveAsync(subscription, cancellationToken).ConfigureAwait(false);
        return null;
    }

    public async Task<SaveRefusal?> SaveRuleAsync(NotificationRule rule, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (!await settings.ScopeExistsAsync(rule.Scope, cancellationToken).ConfigureAwait(false))
        {
            return new SaveRefusal("scope", $"Scope {rule.Scope} does not exist.");
        }

        await store.SaveRuleAsync(rule, cancellationToken).ConfigureAwait(false);
        return null;
    }
}
