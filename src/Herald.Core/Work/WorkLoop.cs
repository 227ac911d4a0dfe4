using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Herald.Outbox;
using Microsoft.Extensions.Logging;

namespace Herald.Work;

/// <summary>How one loop runs: most items claimed in one transaction, how many are worked on at
/// once, and how often an idle loop looks for due work (a signal wakes it sooner).</summary>
public sealed record WorkLoopSettings(int ClaimBatch, int Processors, TimeSpan PollInterval);

/// <summary>
/// The one kind of background loop: claim items with a lease as there is room for them (1), keep
/// the leases renewed while they wait or are worked on (2, <see cref="LeaseKeeper{TKey}"/>),
/// work on each item in its own guard (3), record the outcome (4). One
/// <see cref="FailurePolicy"/> decides what an exception means: an item's fault is counted
/// against it and retried with backoff until it is quarantined; an infrastructure failure
/// postpones the item without counting; only the node stopping or a fatal runtime error ends
/// the loop. Nothing one item does stops the others, the loop, or the node.
/// </summary>
public sealed partial class WorkLoop<TItem>
{
    private readonly IWorkItems<TItem> _items;
    private readonly WorkRoom _room;
    private readonly WorkLoopSettings _settings;
    private readonly WakeSignal? _signal;
    private readonly IBesideLoop? _leases;
    private readonly WorkOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Channel<TItem> _queue = Channel.CreateUnbounded<TItem>();
    private Exception? _fatal;

    public WorkLoop(
        IWorkItems<TItem> items, WorkRoom room, WorkLoopSettings settings, WakeSignal? signal, IBesideLoop? leases, WorkOptions options, TimeProvider time, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(settings);
        _items = items;
        _room = room;
        _settings = settings;
        _signal = signal;
        _leases = leases;
        _options = options;
        _time = time;
        _log = log;
    }

    /// <summary>Items claimed or handed over and not yet begun.</summary>
    public int Queued => _queue.Reader.Count;

    /// <summary>Runs until <paramref name="stopping"/>; throws only what is fatal to the node.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var processors = Enumerable.Range(0, _settings.Processors)
            .Select(_ => Task.Run(() => ProcessQueueAsync(ended, stopping), CancellationToken.None))
            .ToArray();
        var keeping = Task.Run(() => _leases?.RunAsync(ended.Token) ?? Task.CompletedTask, CancellationToken.None);
        LogStarted(_log, _items.Kind, _settings.Processors);
        try
        {
            while (!ended.IsCancellationRequested)
            {
                // (1) Claim as much as there is room for, in one transaction.
                await _room.WaitAsync(ended.Token).ConfigureAwait(false);
                var slots = 1 + await _room.GatherAsync(_settings.ClaimBatch - 1, () => Queued, ended.Token).ConfigureAwait(false);
                var claimed = await ClaimAsync(slots, ended.Token).ConfigureAwait(false);
                foreach (var item in claimed)
                {
                    _queue.Writer.TryWrite(item);
                }

                // Slots the claim did not fill go back.
                _room.Release(slots - claimed.Count);
                if (claimed.Count == 0)
                {
                    await IdleAsync(ended.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (ended.IsCancellationRequested)
        {
            // Stopping: claimed items not yet begun keep their lease until it runs out.
        }
        catch (Exception ex)
        {
            _fatal ??= ex;
        }

        _queue.Writer.TryComplete();
        await ended.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(processors).ConfigureAwait(false);
        try
        {
            await keeping.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _fatal ??= ex;
        }

        if (_fatal is { } fatal)
        {
            LogFatal(_log, _items.Kind, fatal);
            ExceptionDispatchInfo.Throw(fatal);
        }
    }

    /// <summary>One round in the caller: claims what <see cref="WorkLoopSettings.ClaimBatch"/>
    /// allows and works on each item in order, the leases renewed meanwhile; returns how many
    /// were claimed.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var claimed = await _items.ClaimAsync(_settings.ClaimBatch, cancellationToken).ConfigureAwait(false);
        if (claimed.Count == 0)
        {
            return 0;
        }

        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var keeping = _leases?.RunAsync(done.Token) ?? Task.CompletedTask;
        try
        {
            foreach (var item in claimed)
            {
                await ProcessGuardedAsync(item, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await done.CancelAsync().ConfigureAwait(false);
            await keeping.ConfigureAwait(false);
        }

        return claimed.Count;
    }

    /// <summary>An item handed over with its room already taken (a message stored leased to this
    /// node); false when the loop has stopped, and the room is then the caller's to give back.</summary>
    public bool Offer(TItem item) => _queue.Writer.TryWrite(item);

    /// <summary>
    /// (3) and (4): works on one item and, if it throws, records what the failure policy says
    /// the exception means. Throws only when the node is stopping or the runtime is broken.
    /// </summary>
    public async Task ProcessGuardedAsync(TItem item, CancellationToken stopping)
    {
        Exception error;
        try
        {
            await _items.ProcessAsync(item, stopping).ConfigureAwait(false);
            return;
        }
        catch (Exception ex)
        {
            error = ex;
        }

        switch (FailurePolicy.Classify(error, stopping))
        {
            case FailureKind.Stopping:
                // Its lease runs out; this node after a restart, or another, works on it again.
                return;
            case FailureKind.Fatal:
                ExceptionDispatchInfo.Throw(error);
                return;
            case FailureKind.Infrastructure:
                LogPostponed(_log, _items.Kind, _items.NameOf(item), error);
                await RecordAsync(item, () => _items.PostponeAsync(item, _time.GetUtcNow() + _options.InfrastructurePause, stopping), stopping).ConfigureAwait(false);
                return;
            default:
                var failure = ItemFailure.After(FailurePolicy.Describe(error), _items.FailuresOf(item), _options, _time.GetUtcNow());
                if (failure.Quarantined)
                {
                    LogQuarantined(_log, _items.Kind, _items.NameOf(item), failure.Failures, error);
                }
                else
                {
                    LogWillRetry(_log, _items.Kind, _items.NameOf(item), failure.Failures, _options.MaxAttempts, failure.RetryAt!.Value, error);
                }

                await RecordAsync(item, () => _items.FailAsync(item, failure, stopping), stopping).ConfigureAwait(false);
                return;
        }
    }

    private async Task ProcessQueueAsync(CancellationTokenSource ended, CancellationToken stopping)
    {
        var reader = _queue.Reader;
        while (!ended.IsCancellationRequested && await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (!reader.TryRead(out var item))
            {
                continue;
            }

            try
            {
                await ProcessGuardedAsync(item, stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                // Fatal: the whole loop ends, not only this processor.
                _fatal ??= ex;
                await ended.CancelAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Stopping.
            }
            finally
            {
                _room.Release();
            }
        }
    }

    private async Task<IReadOnlyList<TItem>> ClaimAsync(int most, CancellationToken stopping)
    {
        try
        {
            return await _items.ClaimAsync(most, stopping).ConfigureAwait(false);
        }
        catch (Exception ex) when (FailurePolicy.Classify(ex, stopping) is FailureKind.Infrastructure or FailureKind.Item)
        {
            // No item to blame: the loop waits, and claims again.
            LogClaimFailed(_log, _items.Kind, ex);
            await Task.Delay(_options.InfrastructurePause, _time, stopping).ConfigureAwait(false);
            return [];
        }
    }

    private Task IdleAsync(CancellationToken stopping) =>
        _signal is { } signal ? signal.WaitAsync(_settings.PollInterval, stopping) : Task.Delay(_settings.PollInterval, _time, stopping);

    /// <summary>Records a failure or a postponement; if that fails too, the item's lease runs out
    /// and it is worked on again (the failure then not counted).</summary>
    private async Task RecordAsync(TItem item, Func<Task> record, CancellationToken stopping)
    {
        try
        {
            await record().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            switch (FailurePolicy.Classify(ex, stopping))
            {
                case FailureKind.Stopping:
                    return;
                case FailureKind.Fatal:
                    throw;
                default:
                    LogRecordFailed(_log, _items.Kind, _items.NameOf(item), ex);
                    return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The {Kind} loop started ({Processors} at a time)")]
    private static partial void LogStarted(ILogger logger, string kind, int processors);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The {Kind} loop stopped on a fatal runtime error; herald serve stops with it so that it can be restarted")]
    private static partial void LogFatal(ILogger logger, string kind, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Claiming {Kind}s failed; trying again")]
    private static partial void LogClaimFailed(ILogger logger, string kind, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Kind} {Name} could not be worked on (the database or the disk failed, not the {Kind}); it is tried again without counting")]
    private static partial void LogPostponed(ILogger logger, string kind, string name, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Kind} {Name} failed ({Failures} of {MaxAttempts} tries); trying again at {RetryAt:u}")]
    private static partial void LogWillRetry(ILogger logger, string kind, string name, int failures, int maxAttempts, DateTimeOffset retryAt, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "The {Kind} {Name} failed {Failures} times and is quarantined (state failed) until an administrator retries it")]
    private static partial void LogQuarantined(ILogger logger, string kind, string name, int failures, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording the failure of {Kind} {Name} failed; its lease runs out and it is tried again")]
    private static partial void LogRecordFailed(ILogger logger, string kind, string name, Exception exception);
}
