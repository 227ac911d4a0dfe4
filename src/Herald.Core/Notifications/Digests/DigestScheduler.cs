using Herald.Notifications.Templates;
using Herald.Outbox;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.Digests;

/// <summary>
/// Sends daily and weekly digests. Every <see cref="NotificationOptions.DigestCheckInterval"/> it
/// looks at each enabled digest subscription and each of its recipients: when the latest window
/// end (in the recipient's time zone) has no run yet, it gathers the events received since the
/// last run, renders one digest, queues it and records the run. Windows missed while no node ran
/// are not sent one by one: the latest covers everything since the last run.
/// <para>Exactly once, on any number of nodes: every node may render the same window, but the
/// digest's idempotency key (subscription, recipient, window end) is stored in the outbox once,
/// and the run is recorded only after the message is durable. A node that dies in between leaves
/// no run, so the window is rendered again and the outbox answers "duplicate".</para>
/// </summary>
public sealed partial class DigestScheduler(
    ISubscriptionStore subscriptions,
    ISubscriptionRecipients recipients,
    IDirectory directory,
    IDigestStore digests,
    INotificationTemplates templates,
    IUnsubscribeLinks links,
    NotificationMailer mailer,
    NodeIdentity node,
    IOptions<NotificationOptions> options,
    TimeProvider time,
    ILogger<DigestScheduler> logger) : BackgroundService
{
    /// <summary>Events listed in one digest at most; a busier window is cut there.</summary>
    public const int MaxEventsPerDigest = 1_000;

    /// <summary>Digest items are kept this long (longer than a weekly window plus a week of downtime).</summary>
    public static readonly TimeSpan ItemRetention = TimeSpan.FromDays(15);

    /// <summary>Runs are kept long enough that each active recipient's latest is always there.</summary>
    public static readonly TimeSpan RunRetention = TimeSpan.FromDays(30);

    private static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);

    private DateTimeOffset _lastPurge = DateTimeOffset.MinValue;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarted(logger, node.Name, options.Value.DigestCheckInterval);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogCheckFailed(logger, ex);
            }

            try
            {
                await Task.Delay(options.Value.DigestCheckInterval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One check: every digest that is due now is queued; returns how many were queued.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        var queued = 0;
        foreach (var subscription in await subscriptions.ListDigestSubscriptionsAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                queued += await RunSubscriptionAsync(subscription, view, now, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // One subscription's trouble (a bad time zone, a template) must not hold up the others.
                LogSubscriptionFailed(logger, ex, subscription.Id);
            }
        }

        if (now - _lastPurge >= PurgeInterval)
        {
            await digests.PurgeAsync(now - ItemRetention, now - RunRetention, cancellationToken).ConfigureAwait(false);
            _lastPurge = now;
        }

        return queued;
    }

    private async Task<int> RunSubscriptionAsync(Subscription subscription, IDirectoryView view, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var lastRuns = await digests.LastRunsAsync(subscription.Id, cancellationToken).ConfigureAwait(false);
        var windows = new Dictionary<(DateTimeOffset Start, DateTimeOffset End), IReadOnlyList<NotificationEvent>>();
        var emails = new List<NotificationEmail>();
        var runs = new List<DigestRun>();
        foreach (var recipient in await recipients.ResolveAsync(subscription, view, cancellationToken).ConfigureAwait(false))
        {
            var zone = TemplateModel.ZoneOf(recipient);
            var end = DigestCalendar.LatestWindowEnd(subscription.Schedule, zone, now);
            var last = lastRuns.TryGetValue(recipient.Key, out var ran) ? ran : (DateTimeOffset?)null;
            if (last >= end)
            {
                continue;
            }

            var start = last ?? DigestCalendar.PreviousWindowEnd(subscription.Schedule, zone, end);
            if (!windows.TryGetValue((start, end), out var events))
            {
                events = await digests.EventsAsync(subscription.Id, start, end, MaxEventsPerDigest, cancellationToken).ConfigureAwait(false);
                windows[(start, end)] = events;
            }

            if (subscription.ExcludeActor)
            {
                events = events.Where(e => !IsActor(e, recipient)).ToArray();
            }

            // An empty window sends nothing but is still recorded, so it is not looked at again.
            if (events.Count > 0)
            {
                var window = new DigestWindow(start, end, subscription.Schedule.Frequency);
                var unsubscribe = await links.CreateAsync(new NotificationOrigin(NotificationSourceKind.Subscription, subscription.Id, recipient.Key), cancellationToken).ConfigureAwait(false);
                var content = await templates.RenderDigestAsync(subscription, events, window, recipient, unsubscribe, cancellationToken).ConfigureAwait(false);
                emails.Add(new NotificationEmail(recipient, content, unsubscribe, IdempotencyKey(subscription.Id, recipient.Key, end)));
            }

            runs.Add(new DigestRun(subscription.Id, recipient.Key, end, node.Name, now));
        }

        if (emails.Count > 0)
        {
            var outcome = await mailer.SendAsync(subscription.Scope, MessageSource.Digest, emails, cancellationToken).ConfigureAwait(false);
            if (outcome.Problem is not null)
            {
                // Nothing was queued: record nothing, so the next check tries again (and once the
                // scope can send, the digest covers everything since the last run).
                LogCannotSend(logger, subscription.Id, subscription.Scope.Value, outcome.Problem);
                return 0;
            }
        }

        // Checkpoint: the digests are durable in the outbox before their runs are recorded.
        if (runs.Count > 0)
        {
            await digests.RecordRunsAsync(runs, cancellationToken).ConfigureAwait(false);
        }

        return emails.Count;
    }

    /// <summary>The outbox key that makes one window's digest for one recipient exactly-once.</summary>
    public static string IdempotencyKey(string subscriptionId, string recipientKey, DateTimeOffset windowEnd) =>
        $"digest:{subscriptionId}:{recipientKey}:{windowEnd.ToUnixTimeMilliseconds()}";

    private static bool IsActor(NotificationEvent e, NotificationRecipient recipient) =>
        e.Actor is { } actor
        && ((recipient.User is { } user && string.Equals(actor, user.Id, StringComparison.Ordinal))
            || string.Equals(actor, recipient.Address.Value, StringComparison.OrdinalIgnoreCase));

    [LoggerMessage(Level = LogLevel.Information, Message = "Digest scheduler on node {Node} started (checking every {Interval})")]
    private static partial void LogStarted(ILogger logger, string node, TimeSpan interval);

    [LoggerMessage(Level = LogLevel.Error, Message = "Checking for due digests failed; trying again at the next check")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Digests of subscription {Subscription} failed; trying again at the next check")]
    private static partial void LogSubscriptionFailed(ILogger logger, Exception exception, string subscription);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Digests of subscription {Subscription} cannot be sent from scope {Scope}: {Problem}; trying again at the next check")]
    private static partial void LogCannotSend(ILogger logger, string subscription, string scope, string problem);
}
