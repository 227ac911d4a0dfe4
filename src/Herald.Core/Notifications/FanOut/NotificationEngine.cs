using Herald.Webhooks;
using System.Diagnostics;
using Herald.Notifications.Events;
using Herald.Notifications.Matching;
using Herald.Outbox;
using Herald.Telemetry;
using Herald.Work;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.FanOut;

/// <summary>Wakes the engine when an event is stored on this node, instead of waiting for the next poll.</summary>
public sealed class NotificationSignal : WakeSignal;

/// <summary>
/// Events as one kind of background work (<see cref="WorkLoop{TItem}"/>): claimed with a lease,
/// matched and fanned out one at a time, marked done. A node that dies mid-fan-out leaves its
/// events to another once the lease runs out; what the first node already wrote to the outbox is
/// not written twice (idempotency key per event and address). A large fan-out (paced to this
/// node's delivery) can outlast one lease, and so can the wait of the events claimed with it:
/// the lease keeper renews them all while this node holds them. An event whose fan-out throws
/// (a template that divides by zero) is tried again with backoff and then quarantined, while the
/// events claimed with it go on.
/// </summary>
public sealed partial class NotificationEngine(
    INotificationEventStore events,
    NotificationMatcher matcher,
    NotificationFanOut fanOut,
    NodeIdentity node,
    NotificationSignal signal,
    NotificationMetrics metrics,
    IOptions<NotificationOptions> options,
    IOptions<WorkOptions> work,
    TimeProvider time,
    ILogger<NotificationEngine> log) : BackgroundService, IWorkItems<NotificationEvent>
{
    private WorkLoop<NotificationEvent>? _loop;
    private LeaseKeeper<EventKey>? _leases;

    private LeaseKeeper<EventKey> Leases => _leases ??= new LeaseKeeper<EventKey>(
        "event",
        options.Value.Lease,
        async (ids, until, ct) => await events.RenewAsync(node.Name, ids, until, ct).ConfigureAwait(false),
        time,
        log);

    private WorkLoop<NotificationEvent> Loop => _loop ??= new WorkLoop<NotificationEvent>(
        this,
        new WorkRoom(options.Value.ClaimBatch),
        new WorkLoopSettings(options.Value.ClaimBatch, Processors: 1, options.Value.PollInterval),
        signal,
        Leases,
        work.Value,
        time,
        log);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Loop.RunAsync(stoppingToken);

    /// <summary>One round: refresh the index if due, claim a batch, fan each event out. Returns
    /// how many events were claimed.</summary>
    public Task<int> RunOnceAsync(CancellationToken cancellationToken) => Loop.RunOnceAsync(cancellationToken);

    string IWorkItems<NotificationEvent>.Kind => "event";

    string IWorkItems<NotificationEvent>.NameOf(NotificationEvent item) => item.Key.ToString();

    int IWorkItems<NotificationEvent>.FailuresOf(NotificationEvent item) => item.Failures;

    async Task<IReadOnlyList<NotificationEvent>> IWorkItems<NotificationEvent>.ClaimAsync(int most, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await matcher.RefreshIfDueAsync(settings.IndexRefreshInterval, cancellationToken).ConfigureAwait(false);
        var claimedAt = time.GetUtcNow();
        var claimed = await events.ClaimAsync(node.Name, most, claimedAt, settings.Lease, cancellationToken).ConfigureAwait(false);
        return claimed.Where(e => Leases.Hold(e.Key, claimedAt + settings.Lease)).ToArray();
    }

    async Task IWorkItems<NotificationEvent>.ProcessAsync(NotificationEvent item, CancellationToken cancellationToken)
    {
        // In the trace the event was posted in, though this may be another node, later; the
        // notifications it queues are accepted in this span, so their deliveries continue it. An
        // event stored without one starts its own trace, never a child of a span this loop inherited.
        if (Activity.Current is not null)
        {
            Activity.Current = null;
        }

        using var span = HeraldTelemetry.Source.StartActivity("fan-out", ActivityKind.Consumer, HeraldTelemetry.ParentOf(item.TraceParent));
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("herald.event.id", item.Id);
            span.SetTag("herald.event.type", item.Type);
            span.SetTag("herald.scope", item.Scope.Value);
        }

        try
        {
            var result = await fanOut.RunAsync(item, cancellationToken).ConfigureAwait(false);
            if (span is { IsAllDataRequested: true })
            {
                span.SetTag("herald.fanout.recipients", result.Recipients);
                span.SetTag("herald.fanout.queued", result.Stored);
                span.SetTag("herald.fanout.duplicates", result.Duplicates);
                span.SetTag("herald.fanout.digest_entries", result.DigestEntries);
                span.SetTag("herald.fanout.dropped", result.Dropped is { } d ? d.Immediate + d.Digest : 0);
                if (result.Problem is { } problem)
                {
                    span.SetStatus(ActivityStatusCode.Error, problem);
                }
            }
            if (result.Dropped is { } dropped)
            {
                // The event is done: what it would have sent is dropped, counted and said here.
                metrics.Dropped(item.Scope, DroppedKind.Immediate, dropped.Immediate);
                metrics.Dropped(item.Scope, DroppedKind.Digest, dropped.Digest);
                LogDropped(log, item.Id, item.Scope.Value, dropped.Immediate, dropped.Digest, dropped.Because);
            }
            else if (result.Problem is not null)
            {
                // The scope cannot send now (no connection or From address): the event stays pending and
                // is tried again later, so nothing is lost while an administrator fixes the settings.
                LogCannotSend(log, item.Id, item.Scope.Value, result.Problem);
                await events.ReleaseAsync(item.Key, node.Name, time.GetUtcNow() + options.Value.RetryDelay, cancellationToken).ConfigureAwait(false);
                return;
            }

            var now = time.GetUtcNow();
            var outcome = WebhookPayloads.EventFinished(item, result, now);
            if (!await events.CompleteAsync(item.Key, node.Name, now, outcome, cancellationToken).ConfigureAwait(false))
            {
                LogLeaseLost(log, item.Key.ToString());
            }

            if (result.Dropped is null)
            {
                LogFannedOut(log, item.Id, item.Type, result.Stored, result.Duplicates, result.DigestEntries);
            }
        }
        finally
        {
            // Done, or failed and recorded right after: nothing more to renew.
            Leases.Release(item.Key);
        }
    }

    async Task IWorkItems<NotificationEvent>.FailAsync(NotificationEvent item, ItemFailure failure, CancellationToken cancellationToken)
    {
        if (!await events.FailAsync(item.Key, node.Name, failure, cancellationToken).ConfigureAwait(false))
        {
            LogLeaseLost(log, item.Key.ToString());
        }
    }

    Task IWorkItems<NotificationEvent>.PostponeAsync(NotificationEvent item, DateTimeOffset retryAt, CancellationToken cancellationToken) =>
        events.ReleaseAsync(item.Key, node.Name, retryAt, cancellationToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventId} stays pending: scope {Scope} cannot send ({Problem}); trying again later")]
    private static partial void LogCannotSend(ILogger logger, string eventId, string scope, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventId} of scope {Scope}: notifications dropped for {Immediate} immediate and {Digest} digest recipient(s): {Reason}")]
    private static partial void LogDropped(ILogger logger, string eventId, string scope, int immediate, int digest, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventId} was worked on after its lease ran out; another node may have taken it (the outbox stores each email once)")]
    private static partial void LogLeaseLost(ILogger logger, string eventId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Event {EventId} ({Type}): {Stored} email(s) queued, {Duplicates} already queued, {Digest} digest entr(ies)")]
    private static partial void LogFannedOut(ILogger logger, string eventId, string type, int stored, int duplicates, int digest);
}
