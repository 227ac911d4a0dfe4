using System.Threading.Channels;
using Herald.Suppression;
using Microsoft.Extensions.Options;

namespace Herald.Outbox;

/// <summary>
/// Group commit: concurrent submissions wait in a queue and a single writer stores everything
/// waiting in one transaction, so durability costs one fsync per batch, not per message.
/// </summary>
public sealed class OutboxWriter : IAsyncDisposable
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IOutboxStore _store;
    private readonly OutboxSignal _signal;
    private readonly IDeliveryRoom _room;
    private readonly SuppressionCheck _suppressions;
    private readonly DeliveryMetrics? _metrics;
    private readonly int _maxBatch;
    private readonly Task _loop;

    public OutboxWriter(IOutboxStore store, OutboxSignal signal, IDeliveryRoom room, SuppressionCheck suppressions, IOptions<OutboxOptions> options, DeliveryMetrics? metrics = null)
    {
        _store = store;
        _signal = signal;
        _room = room;
        _suppressions = suppressions;
        _metrics = metrics;
        _maxBatch = options.Value.MaxCommitBatch;
        _loop = Task.Run(WriteLoopAsync);
    }

    /// <summary>Completes when the messages are committed to disk (or fails, and nothing is acknowledged).</summary>
    public async Task<IReadOnlyList<EnqueueResult>> EnqueueAsync(IReadOnlyList<NewMessage> messages, CancellationToken cancellationToken)
    {
        var pending = new Pending(messages, new TaskCompletionSource<IReadOnlyList<EnqueueResult>>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (cancellationToken.IsCancellationRequested || !_queue.Writer.TryWrite(pending))
        {
            // Not queued, so nothing is stored: room leased for these messages is given back.
            _room.Abandon(messages);
            cancellationToken.ThrowIfCancellationRequested();
            throw new ChannelClosedException("The outbox writer has stopped; nothing was stored.");
        }

        return await pending.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>();
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            var count = 0;
            while (count < _maxBatch && _queue.Reader.TryRead(out var pending))
            {
                batch.Add(pending);
                count += pending.Messages.Count;
            }

            var messages = batch.SelectMany(p => p.Messages).ToArray();
            try
            {
                // Suppressed recipients are marked before anything is stored or leased, for every
                // producer alike. A message with none left to deliver gives back the room it was
                // leased into ahead (a paced fan-out): it is stored finished and never sent.
                var marked = await _suppressions.MarkAsync(messages, CancellationToken.None).ConfigureAwait(false);
                _room.Abandon(marked.Where(m => m.NothingToDeliver && m.Lease is not null).ToArray());
                messages = _room.Lease(marked.Select(m => m.NothingToDeliver && m.Lease is not null ? m with { Lease = null } : m));

                // Checkpoint: the rows are durable when this returns; only then is anyone told.
                var results = WithSuppressed(messages, await _store.EnqueueAsync(messages, CancellationToken.None).ConfigureAwait(false));
                _room.Deliver(messages, results);
                CountSuppressed(messages, results);
                var offset = 0;
                foreach (var pending in batch)
                {
                    pending.Completion.SetResult(results.Skip(offset).Take(pending.Messages.Count).ToArray());
                    offset += pending.Messages.Count;
                }

                // What this node's worker did not take is for the claims (here or on other nodes).
                if (messages.Any(m => m.Lease is null && !m.NothingToDeliver))
                {
                    _signal.Notify();
                }
            }
            catch (Exception ex)
            {
                _room.Abandon(messages);
                foreach (var pending in batch)
                {
                    pending.Completion.TrySetException(ex);
                }
            }
        }
    }

    /// <summary>Each result with the suppressed recipients of its message, so that a producer (a
    /// fan-out recording what it did) learns which entry stopped which recipient.</summary>
    private static EnqueueResult[] WithSuppressed(NewMessage[] messages, IReadOnlyList<EnqueueResult> results) =>
        [.. messages.Zip(results, (message, result) => message.Suppressed.Count > 0 ? result with { Suppressed = message.Suppressed } : result)];

    private void CountSuppressed(NewMessage[] stored, IReadOnlyList<EnqueueResult> results)
    {
        foreach (var (message, result) in stored.Zip(results))
        {
            // A duplicate was not stored: its recipients were counted with the original.
            if (message.Suppressed.Count > 0 && !result.Duplicate)
            {
                _metrics?.Recipient(RecipientStateNames.Values.NameOf(RecipientState.Suppressed), message.ConnectionName ?? "(none)", message.Suppressed.Count);
            }
        }
    }

    private sealed record Pending(IReadOnlyList<NewMessage> Messages, TaskCompletionSource<IReadOnlyList<EnqueueResult>> Completion);
}
