using Herald.Scopes;

namespace Herald.Notifications.FanOut;

/// <summary>Who receives what a subscription matched, now: permissions and opt-outs are read at
/// send time, so a subscriber who lost View, or a member who opted out, receives nothing more.</summary>
public sealed class SubscriptionRecipients(ISubscriptionStore store) : ISubscriptionRecipients
{
    public ValueTask<IReadOnlyList<NotificationRecipient>> ResolveAsync(Subscription subscription, IDirectoryView directory, CancellationToken cancellationToken) =>
        ResolveAsync(subscription, subscription.Scope, directory, cancellationToken);

    /// <summary>As the contract's overload, with View checked on <paramref name="accessScope"/>:
    /// the event's scope, which is the subscription's or one below it.</summary>
    public async ValueTask<IReadOnlyList<NotificationRecipient>> ResolveAsync(
        Subscription subscription, ScopePath accessScope, IDirectoryView directory, CancellationToken cancellationToken)
    {
        if (subscription.Owner.Kind == PrincipalKind.User)
        {
            return directory.FindUser(subscription.Owner.Id) is { } owner && CanView(directory, owner, accessScope)
                ? [new NotificationRecipient(owner.Email, owner)]
                : [];
        }

        if (directory.FindGroup(subscription.Owner.Id) is not { } group)
        {
            return [];
        }

        var optedOut = await store.OptOutsAsync(NotificationSourceKind.Subscription, subscription.Id, cancellationToken).ConfigureAwait(false);
        var recipients = new List<NotificationRecipient>();
        if (group.Delivery is GroupDelivery.Members or GroupDelivery.Both)
        {
            recipients.AddRange(directory.MembersOf(group.Id)
                .Where(member => !optedOut.Contains(member.Id) && CanView(directory, member, accessScope))
                .Select(member => new NotificationRecipient(member.Email, member)));
        }

        if (group.Delivery is GroupDelivery.Alias or GroupDelivery.Both && group.Alias is { } alias
            && directory.GroupAccessOf(group.Id, accessScope) >= AccessLevel.View && new NotificationRecipient(alias, null) is var aliasRecipient
            && !optedOut.Contains(aliasRecipient.Key))
        {
            recipients.Add(aliasRecipient);
        }

        return recipients;
    }

    private static bool CanView(IDirectoryView directory, DirectoryUser user, ScopePath scope) => directory.AccessOf(user.Id, scope) >= AccessLevel.View;
}
