using Herald.Delivery;
using Herald.Notifications.FanOut;
using Herald.Notifications.Templates;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications.Subscriptions;

/// <summary>One recipient of a test: the address, what the server did with the sample
/// (<c>accepted</c>, <c>deferred</c> — a temporary refusal or a failure to reach it — or
/// <c>refused</c>) and its reply, or the sentence that says why no reply came.</summary>
public sealed record RecipientTestResult(string Address, string Outcome, string Reply);

/// <summary>What a rule's or subscription's test did: the recipients it reaches now
/// (<see cref="Reached"/>), the outcome for each one the sample went to, and a
/// <see cref="Note"/> when not all of them were tried; or why nothing was sent (<see cref="Problem"/>).</summary>
public sealed record NotificationTestResult(string? Problem, int Reached, IReadOnlyList<RecipientTestResult> Recipients, string? Note);

/// <summary>
/// A rule's or subscription's test — saved or not — as the connection test does it: a sample
/// notification rendered for each recipient it reaches now, sent at once through the scope's
/// connection, one SMTP transaction per recipient, and each server reply reported. Nothing is
/// stored: no rule, no subscription, no outbox row. At most <see cref="MaxRecipients"/> are tried.
/// </summary>
public sealed class NotificationTestSender(
    IDirectory directory,
    ISubscriptionStore store,
    SubscriptionRecipients subscriptionRecipients,
    INotificationTemplates templates,
    IUnsubscribeLinks links,
    TestEmailService tester,
    TimeProvider time)
{
    /// <summary>Recipients one test sends to at most: a test shows that the mail goes out, it is not a send.</summary>
    public const int MaxRecipients = 50;

    /// <summary>The rule's recipients now (less those who opted out), each sent a sample of its first event type.</summary>
    public async Task<NotificationTestResult> TestRuleAsync(NotificationRule rule, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        var optedOut = await store.OptOutsAsync(NotificationSourceKind.Rule, rule.Id, cancellationToken).ConfigureAwait(false);
        var recipients = NotificationFanOut.RuleRecipients(rule, view).Where(r => !optedOut.Contains(r.Key));
        var sample = Sample(rule.Filter, rule.Scope, $"rule '{rule.Name}'");
        return await SendAsync(rule.Scope, "rule", recipients, new NotificationOrigin(NotificationSourceKind.Rule, rule.Id, ""), (recipient, unsubscribe, ct) =>
            templates.RenderEventAsync(sample, recipient, rule.Name, unsubscribe, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The subscription's recipients now (its owner, or its group as the group's delivery
    /// says, with View on the scope), each sent a sample: of its first event type when it is
    /// immediate, of a digest when it is daily or weekly.</summary>
    public async Task<NotificationTestResult> TestSubscriptionAsync(Subscription subscription, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        var recipients = await subscriptionRecipients.ResolveAsync(subscription, subscription.Scope, view, cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var origin = new NotificationOrigin(NotificationSourceKind.Subscription, subscription.Id, "");
        if (subscription.Schedule.Frequency == NotificationFrequency.Immediate)
        {
            var sample = Sample(subscription.Filter, subscription.Scope, $"subscription '{subscription.Name}'");
            return await SendAsync(subscription.Scope, "subscription", recipients, origin, (recipient, unsubscribe, ct) =>
                templates.RenderEventAsync(sample, recipient, subscription.Name, unsubscribe, ct), cancellationToken).ConfigureAwait(false);
        }

        var window = new DigestWindow(now - (subscription.Schedule.Frequency == NotificationFrequency.Weekly ? TimeSpan.FromDays(7) : TimeSpan.FromDays(1)), now, subscription.Schedule.Frequency);
        var events = SampleEvents.Digest(subscription.Scope, now);
        return await SendAsync(subscription.Scope, "subscription", recipients, origin, (recipient, unsubscribe, ct) =>
            templates.RenderDigestAsync(subscription, events, window, recipient, unsubscribe, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A sample of the filter's first event type, under its first path prefix, that
    /// names itself as a test of <paramref name="what"/> wherever a template shows the title.</summary>
    private NotificationEvent Sample(EventFilter filter, ScopePath scope, string what)
    {
        var now = time.GetUtcNow();
        var type = filter.EventTypes.Count > 0 ? filter.EventTypes[0] : EventTypes.ItemChanged;
        return new NotificationEvent(
            $"test-{Guid.CreateVersion7(now):N}", type, scope, filter.PathPrefixes.Count > 0 ? filter.PathPrefixes[0] : "/sample", null, $"sample (test of {what})", null, null, now, now);
    }

    private async Task<NotificationTestResult> SendAsync(
        ScopePath scope,
        string kind,
        IEnumerable<NotificationRecipient> recipients,
        NotificationOrigin origin,
        Func<NotificationRecipient, Uri, CancellationToken, ValueTask<RenderedNotification>> render,
        CancellationToken cancellationToken)
    {
        // One email per address, as the fan-out sends it.
        var reached = recipients.DistinctBy(r => r.Address.Value, StringComparer.OrdinalIgnoreCase).ToArray();
        var note = reached.Length > MaxRecipients
            ? $"The {kind} reaches {reached.Length} recipients; the test went to the first {MaxRecipients} only."
            : reached.Length == 0 ? $"The {kind} reaches nobody now, so no sample was sent." : null;
        if (reached.Length == 0)
        {
            return new NotificationTestResult(null, 0, [], note);
        }

        var (route, problem) = await tester.RouteNowAsync(scope, cancellationToken).ConfigureAwait(false);
        if (route is null)
        {
            return new NotificationTestResult(problem, reached.Length, [], note);
        }

        var now = time.GetUtcNow();
        var messages = new List<(MimeKit.MimeMessage Message, IReadOnlyList<string> To)>();
        foreach (var recipient in reached.Take(MaxRecipients))
        {
            var unsubscribe = await links.CreateAsync(origin with { Recipient = recipient.Key }, cancellationToken).ConfigureAwait(false);
            var content = await render(recipient, unsubscribe, cancellationToken).ConfigureAwait(false);
            var email = new NotificationEmail(recipient, content, unsubscribe, IdempotencyKey: "");
            var composed = MessageComposer.Compose(route.Settings, NotificationMailer.ContentOf(route.Settings, scope, email), now, Guid.CreateVersion7(now).ToString("N"));
            messages.Add((composed, [recipient.Address.Value]));
        }

        var envelope = SenderIdentity.Decide(route.Settings, RequestedIdentity.None).EnvelopeSender.Value;
        var (sendProblem, results) = await tester.SendEachAsync(route.Connection, envelope, messages, cancellationToken).ConfigureAwait(false);
        if (sendProblem is not null)
        {
            return new NotificationTestResult($"{sendProblem} Nothing was sent.", reached.Length, [], note);
        }

        var outcomes = messages.Zip(results, (message, result) => result.Recipients.Count > 0
                ? result.Recipients[0]
                : new RecipientResult(message.To[0], RecipientOutcome.TransientFailure, null, result.Failure ?? "The server gave no reply."))
            .Select(r => new RecipientTestResult(r.Address, NameOf(r.Outcome), r.Reply?.ToString() ?? r.Detail))
            .ToArray();
        return new NotificationTestResult(null, reached.Length, outcomes, note);
    }

    private static string NameOf(RecipientOutcome outcome) => outcome switch
    {
        RecipientOutcome.Sent => "accepted",
        RecipientOutcome.TransientFailure => "deferred",
        _ => "refused",
    };
}
