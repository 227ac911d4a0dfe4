using Herald.Notifications.Explain;
using Herald.Scopes;

namespace Herald.Notifications.FanOut;

/// <summary>Someone a source names, and why they receive nothing from it (null: they do).</summary>
public readonly record struct Candidate(NotificationRecipient Recipient, CandidateOutcome? Skipped = null);

/// <summary>Who receives what a subscription matched, now: permissions and opt-outs are read at
/// send time, so a subscriber who lost View, or a member who opted out, receives nothing more.</summary>
public sealed class SubscriptionRecipients(ISubscriptionStore store) : ISubscriptionRecipients
{
    public ValueTask<IReadOnlyList<NotificationRecipient>> ResolveAsync(Subscription subscription, IDirectoryView directory, CancellationToken cancellationToken) =>
        ResolveAsync(subscription, subscription.Scope, directory, cancellationToken);

    /// <summary>As the contract's overload, with View checked on <paramref name="accessScope"/>:
    /// the event's scope, which is the subscription's or one below it.</summary>
    public async ValueTask<IReadOnlyList<NotificationRecipient>> ResolveAsync(
        Subscription subscription, ScopePath accessScope, IDirectoryView directory, CancellationToken cancellationToken) =>
        [.. (await CandidatesAsync(subscription, accessScope, directory, cancellationToken).ConfigureAwait(false)).Where(c => c.Skipped is null).Select(c => c.Recipient)];

    /// <summary>Everyone the subscription names — its owner, or the group's members and alias as
    /// the group's delivery says — each with why they are skipped: no View on
    /// <paramref name="accessScope"/>, or opted out of the group's subscription.</summary>
    public async ValueTask<IReadOnlyList<Candidate>> CandidatesAsync(
        Subscription subscription, ScopePath accessScope, IDirectoryView directory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ArgumentNullException.ThrowIfNull(directory);
        if (subscription.Owner.Kind == PrincipalKind.User)
        {
            return directory.FindUser(subscription.Owner.Id) is { } owner
                ? [new Candidate(new NotificationRecipient(owner.Email, owner), CanView(directory, owner, accessScope) ? null : CandidateOutcome.NoView)]
                : [];
        }

        if (directory.FindGroup(subscription.Owner.Id) is not { } group)
        {
            return [];
        }

        var optedOut = await store.OptOutsAsync(NotificationSourceKind.Subscription, subscription.Id, cancellationToken).ConfigureAwait(false);
        var candidates = new List<Candidate>();
        if (group.Delivery is GroupDelivery.Members or GroupDelivery.Both)
        {
            candidates.AddRange(directory.MembersOf(group.Id).Select(member => new Candidate(
                new NotificationRecipient(member.Email, member),
                optedOut.Contains(member.Id) ? CandidateOutcome.OptedOut : CanView(directory, member, accessScope) ? null : CandidateOutcome.NoView)));
        }

        if (group.Delivery is GroupDelivery.Alias or GroupDelivery.Both && group.Alias is { } alias)
        {
            var recipient = new NotificationRecipient(alias, null);
            candidates.Add(new Candidate(
                recipient,
                optedOut.Contains(recipient.Key) ? CandidateOutcome.OptedOut
                    : directory.GroupAccessOf(group.Id, accessScope) >= AccessLevel.View ? null : CandidateOutcome.NoView));
        }

        return candidates;
    }

    private static bool CanView(IDirectoryView directory, DirectoryUser user, ScopePath scope) => directory.AccessOf(user.Id, scope) >= AccessLevel.View;
}
