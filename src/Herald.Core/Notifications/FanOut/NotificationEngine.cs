using Herald.Notifications.Events;
using Herald.Notifications.Matching;
using Herald.Outbox;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.FanOut;

/// <summary>Wakes the engine when an event is stored on this node, instead of waiting for the next poll.</summary>
public sealed class NotificationSignal : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);

    public void Notify()
    {
        try
        {
            _semaphore.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled; one wake-up is enough.
        }
    }

    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _semaphore.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _semaphore.Dispose();
}

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
        foreach (var notificationEvent in claimed)
        {
            await ProcessAsync(notificationEvent, cancellationToken).ConfigureAwait(false);
        }

        return claimed.Count;
    }

    private async Task ProcessAsync(NotificationEvent notificationEvent, CancellationToken cancellationToken)
    {
        var result = await fanOut.RunAsync(notificationEvent, cancellationToken).ConfigureAwait(false);
        if (result.Problem is not null)
        {
            // The scope cannot send now (no settings, sending disabled): the event stays pending and
            // is tried again later, so nothing is lost while an administrator fixes the settings.
            LogCannotSend(log, notificationEvent.Id, notificationEvent.Scope.Value, result.Problem);
            await events.ReleaseAsync(notificationEvent.Id, node.Name, time.GetUtcNow() + options.Value.RetryDelay, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (!await events.CompleteAsync(notificationEvent.Id, node.Name, time.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            LogLeaseLost(log, notificationEvent.Id);
        }

        LogFannedOut(log, notificationEvent.Id, notificationEvent.Type, result.Stored, result.Duplicates, result.DigestEntries);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Notification engine on node {Node} started")]
    private static partial void LogStarted(ILogger logger, string node);

    [LoggerMessage(Level = LogLevel.Error, Message = "Claiming or fanning out notification events failed; trying again")]
    private static partial void LogCycleFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventId} stays pending: scope {Scope} cannot send ({Problem}); trying again later")]
    private static partial void LogCannotSend(ILogger logger, string eventId, string scope, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventId} was fanned out after its lease ran out; another node may have taken it (the outbox stores each email once)")]
    private static partial void LogLeaseLost(ILogger logger, string eventId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Event {EventId} ({Type}): {Stored} email(s) queued, {Duplicates} already queued, {Digest} digest entr(ies)")]
    private static partial void LogFannedOut(ILogger logger, string eventId, string type, int stored, int duplicates, int digest);
}
