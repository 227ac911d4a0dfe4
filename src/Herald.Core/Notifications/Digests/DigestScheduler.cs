using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Herald.Notifications.Explain;
using Herald.Notifications.Templates;
using Herald.Outbox;
using Herald.Work;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.Digests;

/// <summary>One digest to send: a window of a subscription for one recipient, with its events.</summary>
public sealed record DueDigest(Subscription Subscription, NotificationRecipient Recipient, DigestWindow Window, IReadOnlyList<NotificationEvent> Events, int Failures);

/// <summary>
/// Sends daily and weekly digests, as one kind of background work (<see cref="WorkLoop{TItem}"/>).
/// Every <see cref="NotificationOptions.DigestCheckInterval"/> it looks at each enabled digest
/// subscription and each of its recipients: when the latest window end (in the recipient's time
/// zone) has no run yet, the events received since the last run make one digest. Windows missed
/// while no node ran are not sent one by one: the latest covers everything since the last run.
/// A window without events is recorded as done and sends nothing. Each digest is rendered, queued
/// and recorded in its own guard: one that fails (a template that divides by zero) is tried again
/// with backoff and then quarantined, while the others go out.
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
    IExplainStore explanations,
    INotificationTemplates templates,
    IUnsubscribeLinks links,
    NotificationMailer mailer,
    NotificationMetrics metrics,
    NodeIdentity node,
    IOptions<NotificationOptions> options,
    IOptions<WorkOptions> work,
    TimeProvider time,
    ILogger<DigestScheduler> logger) : BackgroundService, IWorkItems<DueDigest>
{
    /// <summary>Events listed in one digest at most; a busier window is cut there.</summary>
    public const int MaxEventsPerDigest = 1_000;

    /// <summary>Digest items are kept this long (longer than a weekly window plus a week of downtime).</summary>
    public static readonly TimeSpan ItemRetention = TimeSpan.FromDays(15);

    /// <summary>Runs are kept long enough that each active recipient's latest is always there.</summary>
    public static readonly TimeSpan RunRetention = TimeSpan.FromDays(30);

    private static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);

    // Digests rendered at once: each waits for its outbox commit, which the writer groups.
    private const int Processors = 4;
    private const int ClaimBatch = 256;

    // What the last check found and no claim has taken yet.
    private readonly ConcurrentQueue<DueDigest> _due = new();
    private DateTimeOffset _nextCheck = DateTimeOffset.MinValue;
    private DateTimeOffset _lastPurge = DateTimeOffset.MinValue;
    // Digests queued by the RunOnceAsync call this flow is in (tests run several at once).
    private readonly AsyncLocal<StrongBox<int>?> _queued = new();
    private WorkLoop<DueDigest>? _loop;

    private WorkLoop<DueDigest> Loop => _loop ??= new WorkLoop<DueDigest>(
        this,
        new WorkRoom(ClaimBatch),
        new WorkLoopSettings(ClaimBatch, Processors, options.Value.DigestCheckInterval),
        signal: null,
        leases: null,
        work.Value,
        time,
        logger);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Loop.RunAsync(stoppingToken);

    /// <summary>One check now, whatever the interval: every digest that is due is queued; returns
    /// how many were queued.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        _nextCheck = DateTimeOffset.MinValue;
        var queued = new StrongBox<int>();
        _queued.Value = queued;
        await Loop.RunOnceAsync(cancellationToken).ConfigureAwait(false);
        return queued.Value;
    }

    /// <summary>The outbox key that makes one window's digest for one recipient exactly-once.</summary>
    public static string IdempotencyKey(string subscriptionId, string recipientKey, DateTimeOffset windowEnd) =>
        $"digest:{subscriptionId}:{recipientKey}:{windowEnd.ToUnixTimeMilliseconds()}";

    string IWorkItems<DueDigest>.Kind => "digest";

    string IWorkItems<DueDigest>.NameOf(DueDigest item) =>
        $"{item.Subscription.Id} for {item.Recipient.Key} (window ending {item.Window.End:u})";

    int IWorkItems<DueDigest>.FailuresOf(DueDigest item) => item.Failures;

    /// <summary>What the last check found, or a new check once the interval has passed. No lease:
    /// the outbox's idempotency key makes every node's render of a window one message.</summary>
    async Task<IReadOnlyList<DueDigest>> IWorkItems<DueDigest>.ClaimAsync(int most, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_due.IsEmpty && now >= _nextCheck)
        {
            _nextCheck = now + options.Value.DigestCheckInterval;
            await CheckAsync(now, cancellationToken).ConfigureAwait(false);
        }

        var claimed = new List<DueDigest>();
        while (claimed.Count < most && _due.TryDequeue(out var digest))
        {
            claimed.Add(digest);
        }

        return claimed;
    }

    async Task IWorkItems<DueDigest>.ProcessAsync(DueDigest item, CancellationToken cancellationToken)
    {
        var (subscription, recipient, window, events, _) = item;
        if (await mailer.TurnedOffAsync(subscription.Scope, cancellationToken).ConfigureAwait(false) is { } off)
        {
            // Dropped, not held: the window is recorded as done, so turning the scope's email back
            // on does not send it, and the next digest starts after it.
            await digests.RecordRunsAsync([new DigestRun(subscription.Id, recipient.Key, window.End, node.Name, time.GetUtcNow())], cancellationToken).ConfigureAwait(false);
            metrics.Dropped(subscription.Scope, DroppedKind.Digest, 1);
            LogDropped(logger, subscription.Id, recipient.Key, subscription.Scope.Value, off);
            return;
        }

        var unsubscribe = await links.CreateAsync(new NotificationOrigin(NotificationSourceKind.Subscription, subscription.Id, recipient.Key), cancellationToken).ConfigureAwait(false);
        var content = await templates.RenderDigestAsync(subscription, events, window, recipient, unsubscribe, cancellationToken).ConfigureAwait(false);
        var email = new NotificationEmail(recipient, content, unsubscribe, IdempotencyKey(subscription.Id, recipient.Key, window.End));
        var outcome = await mailer.SendAsync(subscription.Scope, MessageSource.Digest, [email], cancellationToken).ConfigureAwait(false);
        if (outcome.Problem is not null)
        {
            // Nothing was queued: record nothing, so the next check tries again (and once the
            // scope can send, the digest covers everything since the last run).
            LogCannotSend(logger, subscription.Id, subscription.Scope.Value, outcome.Problem);
            return;
        }

        // Checkpoint: the digest is durable in the outbox before its run is recorded.
        await digests.RecordRunsAsync([new DigestRun(subscription.Id, recipient.Key, window.End, node.Name, time.GetUtcNow())], cancellationToken).ConfigureAwait(false);
        if (_queued.Value is { } queued)
        {
            Interlocked.Increment(ref queued.Value);
        }
    }

    Task IWorkItems<DueDigest>.FailAsync(DueDigest item, ItemFailure failure, CancellationToken cancellationToken) =>
        digests.RecordFailureAsync(
            new DigestFailure(item.Subscription.Id, item.Recipient.Key, item.Window.Start, item.Window.End, node.Name, time.GetUtcNow(), failure), cancellationToken);

    /// <summary>Not recorded: the next check finds the window still due.</summary>
    Task IWorkItems<DueDigest>.PostponeAsync(DueDigest item, DateTimeOffset retryAt, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Finds every digest due now; windows without events are recorded as done at once.</summary>
    private async Task CheckAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        foreach (var subscription in await subscriptions.ListDigestSubscriptionsAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await CheckSubscriptionAsync(subscription, view, now, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (FailurePolicy.Classify(ex, cancellationToken) == FailureKind.Item)
            {
                // One subscription's trouble (a time zone the machine lacks) must not hold up the others.
                LogSubscriptionFailed(logger, ex, subscription.Id);
            }
        }

        if (now - _lastPurge >= PurgeInterval)
        {
            await digests.PurgeAsync(now - ItemRetention, now - RunRetention, cancellationToken).ConfigureAwait(false);
            // The notification engine's other records of what it did: events' explanations.
            await explanations.PurgeAsync(now - options.Value.ExplainRetention, cancellationToken).ConfigureAwait(false);
            _lastPurge = now;
        }
    }

    private async Task CheckSubscriptionAsync(Subscription subscription, IDirectoryView view, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var lastRuns = await digests.LastRunsAsync(subscription.Id, cancellationToken).ConfigureAwait(false);
        var windows = new Dictionary<(DateTimeOffset Start, DateTimeOffset End), IReadOnlyList<NotificationEvent>>();
        var empty = new List<DigestRun>();
        var resolved = await recipients.ResolveAsync(subscription, view, cancellationToken).ConfigureAwait(false);
        foreach (var recipient in resolved)
        {
            var zone = TemplateModel.ZoneOf(recipient);
            var end = DigestCalendar.LatestWindowEnd(subscription.Schedule, zone, now);
            var last = lastRuns.TryGetValue(recipient.Key, out var ran) ? ran : (DateTimeOffset?)null;
            if (last >= end)
            {
                continue;
            }

            await AddAsync(recipient, last ?? DigestCalendar.PreviousWindowEnd(subscription.Schedule, zone, end), end, failures: 0).ConfigureAwait(false);
        }

        // Windows whose digest failed before (or that an administrator retried), due again now.
        var byKey = resolved.ToDictionary(r => r.Key, StringComparer.Ordinal);
        foreach (var retry in await digests.RetriesDueAsync(subscription.Id, now, cancellationToken).ConfigureAwait(false))
        {
            // A recipient who no longer receives the subscription gets nothing.
            if (byKey.TryGetValue(retry.Recipient, out var recipient))
            {
                await AddAsync(recipient, retry.WindowStart, retry.WindowEnd, retry.Failures).ConfigureAwait(false);
            }
        }

        await digests.RecordRunsAsync(empty, cancellationToken).ConfigureAwait(false);

        async Task AddAsync(NotificationRecipient recipient, DateTimeOffset start, DateTimeOffset end, int failures)
        {
            if (!windows.TryGetValue((start, end), out var events))
            {
                events = await digests.EventsAsync(subscription.Id, start, end, MaxEventsPerDigest, cancellationToken).ConfigureAwait(false);
                windows[(start, end)] = events;
            }

            if (subscription.ExcludeActor)
            {
                events = events.Where(e => !IsActor(e, recipient)).ToArray();
            }

            if (events.Count == 0)
            {
                // An empty window sends nothing but is still recorded, so it is not looked at again.
                empty.Add(new DigestRun(subscription.Id, recipient.Key, end, node.Name, now));
            }
            else
            {
                // A subscription's first summary covers the time since it was made, not a whole
                // day or week it did not exist for.
                var from = subscription.CreatedAt > start ? (subscription.CreatedAt < end ? subscription.CreatedAt : end) : start;
                _due.Enqueue(new DueDigest(subscription, recipient, new DigestWindow(from, end, subscription.Schedule.Frequency), events, failures));
            }
        }
    }

    private static bool IsActor(NotificationEvent e, NotificationRecipient recipient) =>
        e.Actor is { } actor
        && ((recipient.User is { } user && string.Equals(actor, user.Id, StringComparison.Ordinal))
            || string.Equals(actor, recipient.Address.Value, StringComparison.OrdinalIgnoreCase));

    [LoggerMessage(Level = LogLevel.Error, Message = "Digests of subscription {Subscription} could not be checked; trying again at the next check")]
    private static partial void LogSubscriptionFailed(ILogger logger, Exception exception, string subscription);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Digest of subscription {Subscription} for {Recipient} dropped (scope {Scope}): {Reason}")]
    private static partial void LogDropped(ILogger logger, string subscription, string recipient, string scope, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Digests of subscription {Subscription} cannot be sent from scope {Scope}: {Problem}; trying again at the next check")]
    private static partial void LogCannotSend(ILogger logger, string subscription, string scope, string problem);
}
