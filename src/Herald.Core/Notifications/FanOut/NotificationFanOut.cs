using System.Runtime.CompilerServices;
using Herald.Notifications.Matching;
using Herald.Outbox;
using Herald.Settings;

namespace Herald.Notifications.FanOut;

/// <summary>What one event's fan-out did: emails stored (or already stored by an earlier run),
/// digest entries handed on, or why the scope could not send (then nothing is finished); or,
/// when the scope's email is turned off, what was dropped instead (<see cref="Dropped"/>).</summary>
public sealed record FanOutResult(int Recipients, int Stored, int Duplicates, int DigestEntries, string? Problem)
{
    public DroppedNotifications? Dropped { get; init; }
}

/// <summary>Notifications an event would have produced, dropped because <paramref name="Because"/>:
/// the recipients of its immediate emails and of the digests it would have been listed in.</summary>
public sealed record DroppedNotifications(int Immediate, int Digest, string Because);

/// <summary>
/// One event → the recipients of every matching immediate subscription, every matching rule and,
/// for administrative types, the scope's administrators; one email per address however many of
/// those name it (the first source names the unsubscribe link: subscriptions, then rules, then
/// administrators). Daily and weekly subscriptions get digest entries instead.
/// </summary>
public sealed class NotificationFanOut(
    IDirectory directory,
    NotificationMatcher matcher,
    SubscriptionRecipients subscriptionRecipients,
    ISubscriptionStore store,
    INotificationTemplates templates,
    IUnsubscribeLinks links,
    IDigestInbox digests,
    NotificationMailer mailer)
{
    public async Task<FanOutResult> RunAsync(NotificationEvent notificationEvent, CancellationToken cancellationToken)
    {
        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        var plan = new Plan(notificationEvent, view);
        var digestEntries = new List<DigestEntry>();
        var digestSubscriptions = new List<Subscription>();
        foreach (var subscription in matcher.Subscriptions.Match(notificationEvent))
        {
            if (subscription.Schedule.Frequency != NotificationFrequency.Immediate)
            {
                digestEntries.Add(new DigestEntry(subscription.Id, notificationEvent.Key, notificationEvent.ReceivedAt));
                digestSubscriptions.Add(subscription);
                continue;
            }

            var recipients = await subscriptionRecipients.ResolveAsync(subscription, notificationEvent.Scope, view, cancellationToken).ConfigureAwait(false);
            plan.Add(recipients, NotificationSourceKind.Subscription, subscription.Id, subscription.Name, subscription.ExcludeActor, optedOut: null);
        }

        foreach (var rule in matcher.Rules.Match(notificationEvent))
        {
            var optedOut = await store.OptOutsAsync(NotificationSourceKind.Rule, rule.Id, cancellationToken).ConfigureAwait(false);
            plan.Add(RuleRecipients(rule, view), NotificationSourceKind.Rule, rule.Id, rule.Name, rule.ExcludeActor, optedOut);
        }

        if (EventTypes.IsAdministrative(notificationEvent.Type))
        {
            var scope = notificationEvent.Scope.Value;
            var optedOut = await store.OptOutsAsync(NotificationSourceKind.Administrative, scope, cancellationToken).ConfigureAwait(false);
            var administrators = view.AdministratorsOf(notificationEvent.Scope).Select(a => new NotificationRecipient(a.Email, a)).ToArray();
            plan.Add(administrators, NotificationSourceKind.Administrative, scope, $"administrators of {scope}", excludeActor: false, optedOut);
        }

        if (await mailer.TurnedOffAsync(notificationEvent.Scope, cancellationToken).ConfigureAwait(false) is { } off)
        {
            // Dropped, not held: turning the scope's email back on sends nothing produced meanwhile.
            var digestRecipients = 0;
            foreach (var subscription in digestSubscriptions)
            {
                digestRecipients += (await subscriptionRecipients.ResolveAsync(subscription, notificationEvent.Scope, view, cancellationToken).ConfigureAwait(false)).Count;
            }

            return new FanOutResult(plan.Emails.Count, 0, 0, 0, null) { Dropped = new DroppedNotifications(plan.Emails.Count, digestRecipients, off) };
        }

        var result = await SendAsync(notificationEvent, plan.Emails, MessageSource.Notification, Requester(notificationEvent, view), cancellationToken).ConfigureAwait(false);
        if (result.Problem is null && digestEntries.Count > 0)
        {
            await digests.AddAsync(digestEntries, cancellationToken).ConfigureAwait(false);
        }

        return result with { DigestEntries = digestEntries.Count };
    }

    /// <summary>A rule's addresses as given; its users; its groups as each group's delivery says.</summary>
    public static IEnumerable<NotificationRecipient> RuleRecipients(NotificationRule rule, IDirectoryView view)
    {
        foreach (var address in rule.Addresses)
        {
            yield return new NotificationRecipient(address, null);
        }

        foreach (var principal in rule.Recipients)
        {
            if (principal.Kind == PrincipalKind.User)
            {
                if (view.FindUser(principal.Id) is { } user)
                {
                    yield return new NotificationRecipient(user.Email, user);
                }

                continue;
            }

            if (view.FindGroup(principal.Id) is not { } group)
            {
                continue;
            }

            if (group.Delivery is GroupDelivery.Members or GroupDelivery.Both)
            {
                foreach (var member in view.MembersOf(group.Id))
                {
                    yield return new NotificationRecipient(member.Email, member);
                }
            }

            if (group.Delivery is GroupDelivery.Alias or GroupDelivery.Both && group.Alias is { } alias)
            {
                yield return new NotificationRecipient(alias, null);
            }
        }
    }

    /// <summary>Renders each email as the mailer takes it, so a 100,000-member fan-out never holds
    /// every rendered email at once.</summary>
    private async Task<FanOutResult> SendAsync(
        NotificationEvent notificationEvent, IReadOnlyList<Planned> emails, MessageSource source, NotificationRequester? requester, CancellationToken cancellationToken)
    {
        var outcome = await mailer.SendAsync(notificationEvent.Scope, source, RenderAsync(notificationEvent, emails, requester, cancellationToken), cancellationToken).ConfigureAwait(false);
        return new FanOutResult(emails.Count, outcome.Stored, outcome.Duplicates, 0, outcome.Problem);
    }

    private async IAsyncEnumerable<NotificationEmail> RenderAsync(
        NotificationEvent notificationEvent, IReadOnlyList<Planned> emails, NotificationRequester? requester, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var planned in emails)
        {
            var unsubscribe = await links.CreateAsync(planned.Origin, cancellationToken).ConfigureAwait(false);
            var content = await templates.RenderEventAsync(notificationEvent, planned.Recipient, planned.SourceName, unsubscribe, cancellationToken).ConfigureAwait(false);
            // Idempotency: one key per (event, address) among the messages of the event's scope (where
            // event ids are unique), so a fan-out run again sends nothing twice.
            var key = $"event:{notificationEvent.Id}:{planned.Recipient.Address.Value.ToLowerInvariant()}";
            yield return new NotificationEmail(planned.Recipient, content, unsubscribe, key, requester);
        }
    }

    /// <summary>The person asking in an access request: the actor as a directory user (their email
    /// and name), or as an email address.</summary>
    private static NotificationRequester? Requester(NotificationEvent notificationEvent, IDirectoryView view)
    {
        if (notificationEvent.Type != EventTypes.AccessRequested || notificationEvent.Actor is not { } actor)
        {
            return null;
        }

        if ((view.FindUser(actor) ?? view.FindUserByEmail(actor)) is { } user)
        {
            return new NotificationRequester(user.Email, user.Name);
        }

        return EmailAddress.TryParse(actor, out var address, out _) ? new NotificationRequester(address, null) : null;
    }

    private sealed record Planned(NotificationRecipient Recipient, NotificationOrigin Origin, string SourceName);

    /// <summary>The emails of one event, one per address in the order first met.</summary>
    private sealed class Plan(NotificationEvent notificationEvent, IDirectoryView view)
    {
        private readonly HashSet<string> _addresses = new(StringComparer.OrdinalIgnoreCase);
        private readonly string? _actorId = ActorId(notificationEvent.Actor, view);
        private readonly string? _actorEmail = ActorEmail(notificationEvent.Actor, view);

        public List<Planned> Emails { get; } = [];

        public void Add(
            IEnumerable<NotificationRecipient> recipients, NotificationSourceKind kind, string sourceId, string sourceName, bool excludeActor, IReadOnlySet<string>? optedOut)
        {
            foreach (var recipient in recipients)
            {
                if ((optedOut is not null && optedOut.Contains(recipient.Key)) || (excludeActor && IsActor(recipient)) || !_addresses.Add(recipient.Address.Value))
                {
                    continue;
                }

                Emails.Add(new Planned(recipient, new NotificationOrigin(kind, sourceId, recipient.Key), sourceName));
            }
        }

        private bool IsActor(NotificationRecipient recipient) =>
            (_actorId is not null && string.Equals(recipient.User?.Id, _actorId, StringComparison.OrdinalIgnoreCase))
            || (_actorEmail is not null && string.Equals(recipient.Address.Value, _actorEmail, StringComparison.OrdinalIgnoreCase));

        // The actor is a user id or an email address; either way the other is looked up.
        private static string? ActorId(string? actor, IDirectoryView view) =>
            actor is null ? null : view.FindUser(actor)?.Id ?? view.FindUserByEmail(actor)?.Id ?? actor;

        private static string? ActorEmail(string? actor, IDirectoryView view) =>
            actor is null ? null : view.FindUser(actor)?.Email.Value ?? actor;
    }
}
