using System.Globalization;
using System.Runtime.CompilerServices;
using Herald.Notifications.Digests;
using Herald.Notifications.Explain;
using Herald.Notifications.Matching;
using Herald.Notifications.Templates;
using Herald.Outbox;
using Herald.Settings;
using Microsoft.Extensions.Options;

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
    NotificationMailer mailer,
    IExplainStore explanations,
    IOptions<NotificationOptions> options,
    TimeProvider time)
{
    public async Task<FanOutResult> RunAsync(NotificationEvent notificationEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notificationEvent);
        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        // What is decided for whom is written down as it is decided (unless turned off).
        var explain = options.Value.RecordExplanations ? new ExplanationBuilder() : null;
        var plan = new Plan(notificationEvent, view, explain);
        var digestEntries = new List<DigestEntry>();
        var digestSubscriptions = new List<(Subscription Subscription, int Source)>();
        foreach (var subscription in matcher.Subscriptions.Match(notificationEvent))
        {
            var source = explain?.Source(NotificationSourceKind.Subscription, subscription.Id, subscription.Name, subscription.Schedule.Frequency) ?? 0;
            if (subscription.Schedule.Frequency != NotificationFrequency.Immediate)
            {
                digestEntries.Add(new DigestEntry(subscription.Id, notificationEvent.Key, notificationEvent.ReceivedAt));
                digestSubscriptions.Add((subscription, source));
                continue;
            }

            var candidates = await subscriptionRecipients.CandidatesAsync(subscription, notificationEvent.Scope, view, cancellationToken).ConfigureAwait(false);
            plan.Add(candidates, NotificationSourceKind.Subscription, subscription.Id, subscription.Name, subscription.ExcludeActor, optedOut: null, source);
        }

        foreach (var rule in matcher.Rules.Match(notificationEvent))
        {
            var source = explain?.Source(NotificationSourceKind.Rule, rule.Id, rule.Name, NotificationFrequency.Immediate) ?? 0;
            var optedOut = await store.OptOutsAsync(NotificationSourceKind.Rule, rule.Id, cancellationToken).ConfigureAwait(false);
            plan.Add(RuleRecipients(rule, view).Select(r => new Candidate(r)), NotificationSourceKind.Rule, rule.Id, rule.Name, rule.ExcludeActor, optedOut, source);
        }

        if (EventTypes.IsAdministrative(notificationEvent.Type))
        {
            var scope = notificationEvent.Scope.Value;
            var name = $"administrators of {scope}";
            var source = explain?.Source(NotificationSourceKind.Administrative, scope, name, NotificationFrequency.Immediate) ?? 0;
            var optedOut = await store.OptOutsAsync(NotificationSourceKind.Administrative, scope, cancellationToken).ConfigureAwait(false);
            var administrators = view.AdministratorsOf(notificationEvent.Scope).Select(a => new Candidate(new NotificationRecipient(a.Email, a))).ToArray();
            plan.Add(administrators, NotificationSourceKind.Administrative, scope, name, excludeActor: false, optedOut, source);
        }

        var off = await mailer.TurnedOffAsync(notificationEvent.Scope, cancellationToken).ConfigureAwait(false);
        var digestRecipients = 0;
        if (off is not null || explain is not null)
        {
            foreach (var (subscription, source) in digestSubscriptions)
            {
                var candidates = await subscriptionRecipients.CandidatesAsync(subscription, notificationEvent.Scope, view, cancellationToken).ConfigureAwait(false);
                digestRecipients += candidates.Count(c => c.Skipped is null);
                foreach (var candidate in candidates)
                {
                    explain?.Add(
                        candidate.Recipient,
                        candidate.Skipped ?? (off is null ? CandidateOutcome.Digest : CandidateOutcome.ScopeDisabled),
                        source,
                        detail: candidate.Skipped is null && off is null ? WindowOf(subscription, candidate.Recipient, notificationEvent.ReceivedAt) : null);
                }
            }
        }

        if (off is not null)
        {
            // Dropped, not held: turning the scope's email back on sends nothing produced meanwhile.
            foreach (var planned in plan.Emails)
            {
                explain?.Dropped(planned.Place);
            }

            await RecordAsync(explain, notificationEvent, off, cancellationToken).ConfigureAwait(false);
            return new FanOutResult(plan.Emails.Count, 0, 0, 0, null) { Dropped = new DroppedNotifications(plan.Emails.Count, digestRecipients, off) };
        }

        var outcome = await mailer.SendAsync(
            notificationEvent.Scope, MessageSource.Notification, RenderAsync(notificationEvent, plan.Emails, Requester(notificationEvent, view), cancellationToken), cancellationToken).ConfigureAwait(false);
        if (outcome.Problem is not null)
        {
            // Nothing was stored and the event stays pending: its explanation is written when it is fanned out.
            return new FanOutResult(plan.Emails.Count, 0, 0, 0, outcome.Problem);
        }

        if (digestEntries.Count > 0)
        {
            await digests.AddAsync(digestEntries, cancellationToken).ConfigureAwait(false);
        }

        if (explain is not null)
        {
            foreach (var (planned, result) in plan.Emails.Zip(outcome.Results))
            {
                explain.Queued(planned.Place, result);
            }

            await RecordAsync(explain, notificationEvent, null, cancellationToken).ConfigureAwait(false);
        }

        return new FanOutResult(plan.Emails.Count, outcome.Stored, outcome.Duplicates, digestEntries.Count, null);
    }

    private async Task RecordAsync(ExplanationBuilder? explain, NotificationEvent notificationEvent, string? disabled, CancellationToken cancellationToken)
    {
        if (explain is not null)
        {
            await explanations.RecordAsync(explain.Build(notificationEvent.Key, time.GetUtcNow(), disabled), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The end of the digest window the event falls in, in the recipient's time zone:
    /// the first window end after the event was received.</summary>
    private static string WindowOf(Subscription subscription, NotificationRecipient recipient, DateTimeOffset receivedAt)
    {
        var period = TimeSpan.FromDays(subscription.Schedule.Frequency == NotificationFrequency.Weekly ? 7 : 1);
        var zone = TemplateModel.ZoneOf(recipient);
        var end = DigestCalendar.LatestWindowEnd(subscription.Schedule, zone, receivedAt + period);
        var utc = end.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        var local = TimeZoneInfo.ConvertTime(end, zone);
        return local.Offset == TimeSpan.Zero ? utc : $"{utc} ({local.ToString("HH:mm", CultureInfo.InvariantCulture)} {zone.Id})";
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

    private sealed record Planned(NotificationRecipient Recipient, NotificationOrigin Origin, string SourceName, int Place);

    /// <summary>The emails of one event, one per address in the order first met; and, when it is
    /// recorded, why each other candidate gets none.</summary>
    private sealed class Plan(NotificationEvent notificationEvent, IDirectoryView view, ExplanationBuilder? explain)
    {
        // Each address mailed, and the source that reached it first.
        private readonly Dictionary<string, int> _reached = new(StringComparer.OrdinalIgnoreCase);
        private readonly string? _actorId = ActorId(notificationEvent.Actor, view);
        private readonly string? _actorEmail = ActorEmail(notificationEvent.Actor, view);

        public List<Planned> Emails { get; } = [];

        public void Add(
            IEnumerable<Candidate> candidates, NotificationSourceKind kind, string sourceId, string sourceName, bool excludeActor, IReadOnlySet<string>? optedOut, int source)
        {
            foreach (var (recipient, skipped) in candidates)
            {
                var outcome = skipped
                    ?? (optedOut is not null && optedOut.Contains(recipient.Key) ? CandidateOutcome.OptedOut
                        : excludeActor && IsActor(recipient) ? CandidateOutcome.Actor
                        : null);
                if (outcome is { } notMailed)
                {
                    explain?.Add(recipient, notMailed, source);
                    continue;
                }

                if (!_reached.TryAdd(recipient.Address.Value, source))
                {
                    explain?.Add(recipient, CandidateOutcome.AlreadyReached, source, other: _reached[recipient.Address.Value]);
                    continue;
                }

                var place = explain?.Add(recipient, CandidateOutcome.Mailed, source) ?? -1;
                Emails.Add(new Planned(recipient, new NotificationOrigin(kind, sourceId, recipient.Key), sourceName, place));
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
