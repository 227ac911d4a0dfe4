using System.Collections.Concurrent;
using Herald.Notifications.Events;
using Herald.Notifications.Matching;
using Herald.Outbox;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.FanOut;

/// <summary>Wakes the engine when an event is stored on this node, instead of waiting for the next poll.</summary>
public sealed class NotificationSignal : WakeSignal;

/// <summary>
/// Claims pending events with a lease, matches and fans each out, and marks it done. A node that
/// dies mid-fan-out leaves its events to another once the lease runs out; what the first node
/// already wrote to the outbox is not written twice (idempotency key per event and address).
/// </summary>
public sealed partial class NotificationEngine(
    INotificationEventStore events,
    NotificationMatcher matcher,
    NotificationFanOut fanOut,
    NodeIdentity node,
    NotificationSignal signal,
    IOptions<NotificationOptions> options,
    TimeProvider time,
    ILogger<NotificationEngine> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarted(log, node.Name);
        var settings = options.Value;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var worked = await RunOnceAsync(stoppingToken).ConfigureAwait(false);
                if (worked == 0)
                {
                    await signal.WaitAsync(settings.PollInterval, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or IOException or TimeoutException or InvalidOperationException)
            {
                LogCycleFailed(log, ex);
                await Task.Delay(settings.PollInterval, time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>One cycle: refresh the index if due, claim a batch, process it. Returns how many
    /// events were claimed.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await matcher.RefreshIfDueAsync(settings.IndexRefreshInterval, cancellationToken).ConfigureAwait(false);
        var claimed = await events.ClaimAsync(node.Name, settings.ClaimBatch, time.GetUtcNow(), settings.Lease, cancellationToken).ConfigureAwait(false);
        if (claimed.Count == 0)
        {
            return 0;
        }

        var held = new ConcurrentDictionary<EventKey, bool>(claimed.Select(e => KeyValuePair.Create(e.Key, true)));
        using var processed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewing = RenewWhileHeldAsync(held, processed.Token);
        try
        {
            foreach (var notificationEvent in claimed)
            {
                await ProcessAsync(notificationEvent, cancellationToken).ConfigureAwait(false);
                held.TryRemove(notificationEvent.Key, out _);
            }
        }
        finally
        {
            await processed.CancelAsync().ConfigureAwait(false);
            await renewing.ConfigureAwait(false);
        }

        return claimed.Count;
    }

    /// <summary>
    /// Keeps the leases of the claimed events that are not done yet, every third of a lease: a
    /// large fan-out (paced to this node's delivery) can outlast one lease, and so can the wait of
    /// the events claimed with it. Only a node that died (or lost the database) lets its events
    /// go to another, which would fan them out again (sending nothing twice, but doing all the
    /// work twice).
    /// </summary>
    private async Task RenewWhileHeldAsync(ConcurrentDictionary<EventKey, bool> held, CancellationToken processed)
    {
        var lease = options.Value.Lease;
        while (true)
        {
            try
            {
                await Task.Delay(lease / 3, time, processed).ConfigureAwait(false);
                var ids = held.Keys.ToArray();
                if (ids.Length == 0)
                {
                    continue;
                }

                var renewed = await events.RenewAsync(node.Name, ids, time.GetUtcNow() + lease, processed).ConfigureAwait(false);
                foreach (var lost in ids.Except(renewed))
                {
                    // Taken over: the fan-out here still finishes (the outbox stores each email once).
                    held.TryRemove(lost, out _);
                }
            }
            catch (OperationCanceledException) when (processed.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or IOException or TimeoutException or InvalidOperationException)
            {
                LogRenewFailed(log, held.Count, ex);
            }
        }
    }

    private async Task ProcessAsync(NotificationEvent notificationEvent, CancellationToken cancellationToken)
    {
        var result = await fanOut.RunAsync(notificationEvent, cancellationToken).ConfigureAwait(false);
        if (result.Problem is not null)
        {
            // The scope cannot send now (no settings, sending disabled): the event stays pending and
            // is tried again later, so nothing is lost while an administrator fixes the settings.
            LogCannotSend(log, notificationEvent.Id, notificationEvent.Scope.Value, result.Problem);
            await events.ReleaseAsync(notificationEvent.Key, node.Name, time.GetUtcNow() + options.Value.RetryDelay, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (!await events.CompleteAsync(notificationEvent.Key, node.Name, time.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            LogLeaseLost(log, notificationEvent.Id);
        }

        LogFannedOut(log, notificationEvent.Id, notificationEvent.Type, result.Stored, result.Duplicates, result.DigestEntries);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Notification engine on node {Node} started")]
    private static partial void LogStarted(ILogger logger, string node);

    [LoggerMessage(Level = LogLevel.Error, Message = "Claiming or fanning out notification events failed; trying again")]
    private static partial void LogCycleFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Renewing the leases of {Count} notification event(s) failed; trying again")]
    private static partial void LogRenewFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventId} stays pending: scope {Scope} cannot send ({Problem}); trying again later")]
    private static partial void LogCannotSend(ILogger logger, string eventId, string scope, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventId} was fanned out after its lease ran out; another node may have taken it (the outbox stores each email once)")]
    private static partial void LogLeaseLost(ILogger logger, string eventId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Event {EventId} ({Type}): {Stored} email(s) queued, {Duplicates} already queued, {Digest} digest entr(ies)")]
    private static partial void LogFannedOut(ILogger logger, string eventId, string type, int stored, int duplicates, int digest);
}
