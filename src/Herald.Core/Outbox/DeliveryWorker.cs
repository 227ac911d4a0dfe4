using Herald.Work;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Outbox;

/// <summary>
/// The send loop: a <see cref="WorkLoop{TItem}"/> of messages. It claims due messages into this
/// node's <see cref="DeliveryCapacity"/> (and takes those leased to it at insert), keeps their
/// leases renewed (<see cref="LeaseKeeper{TKey}"/>) while they wait for a sender or a connection
/// slot, makes one <see cref="DeliveryAttempt"/> per message and hands the outcome to the
/// <see cref="OutcomeRecorder"/>, which records in batches and lets each lease go.
/// </summary>
public sealed partial class DeliveryWorker(
    IOutboxStore outbox,
    DeliveryConnections connections,
    DeliveryAttempt attempt,
    DeliveryCapacity capacity,
    ConnectionHealth health,
    OutboxSignal signal,
    NodeIdentity node,
    IOptions<DeliveryOptions> options,
    IOptions<WorkOptions> work,
    TimeProvider time,
    ILoggerFactory logs) : BackgroundService
{
    private readonly ILogger _log = logs.CreateLogger<DeliveryWorker>();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var leases = new LeaseKeeper<string>(
            "message", o.Lease, async (ids, until, ct) => await outbox.RenewAsync(node.Name, ids, until, ct).ConfigureAwait(false), time, _log, StringComparer.Ordinal);
        var recorder = new OutcomeRecorder(outbox, leases, time, logs.CreateLogger<OutcomeRecorder>());
        var messages = new Messages(outbox, connections, attempt, capacity, health, node, o.Lease, leases, recorder, time, _log);
        var loop = new WorkLoop<ClaimedMessage>(
            messages, capacity.Room, new WorkLoopSettings(o.ClaimBatch, o.Concurrency, o.PollInterval), signal, leases, work.Value, time, _log);
        var recording = Task.Run(recorder.RunAsync, CancellationToken.None);
        LogStarted(_log, node.Name, o.Concurrency);
        capacity.Open(message => leases.Hold(message.Id, message.LeaseUntil!.Value) && loop.Offer(message));
        try
        {
            await loop.RunAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            capacity.Close();
            recorder.Complete();
            await recording.ConfigureAwait(false);
        }
    }

    /// <summary>Messages as the loop works on them.</summary>
    private sealed class Messages(
        IOutboxStore outbox,
        DeliveryConnections connections,
        DeliveryAttempt attempt,
        DeliveryCapacity capacity,
        ConnectionHealth health,
        NodeIdentity node,
        TimeSpan lease,
        LeaseKeeper<string> leases,
        OutcomeRecorder recorder,
        TimeProvider time,
        ILogger log) : IWorkItems<ClaimedMessage>
    {
        public string Kind => "message";

        public string NameOf(ClaimedMessage item) => item.Id;

        public int FailuresOf(ClaimedMessage item) => item.Failures;

        public async Task<IReadOnlyList<ClaimedMessage>> ClaimAsync(int most, CancellationToken cancellationToken)
        {
            var allowed = await connections.AllowedAsync(cancellationToken).ConfigureAwait(false);
            capacity.Allow(allowed);
            var claimedAt = time.GetUtcNow();
            var claimed = await outbox.ClaimAsync(node.Name, allowed, most, claimedAt, lease, cancellationToken).ConfigureAwait(false);
            // A message already waiting here (its lease ran out while renewals failed) is not
            // queued a second time: the claim has only renewed its lease.
            return claimed.Where(m => leases.Hold(m.Id, claimedAt + lease)).ToArray();
        }

        public async Task ProcessAsync(ClaimedMessage item, CancellationToken cancellationToken)
        {
            // Checked as the attempt begins (the wait for a connection slot and the rate limit
            // that follows is covered by the renewals): a message whose lease this node may have
            // lost, renewals having failed until it ran out, is left to whichever node holds it now.
            if (!leases.Holds(item.Id))
            {
                leases.Release(item.Id);
                LogLeaseLost(log, item.Id);
                return;
            }

            // Claimed or handed over just before its connection went down: it waits for the
            // probe like the rest of the connection's backlog, no attempt made or counted.
            if (item.ConnectionName is { } connection && health.IsDown(connection))
            {
                recorder.Add(AttemptOutcome.Postponed(item.Id, node.Name, time.GetUtcNow(), time.GetUtcNow() + lease));
                return;
            }

            // A transaction under way is finished even when the node is stopping.
            recorder.Add(await attempt.DeliverAsync(item, CancellationToken.None).ConfigureAwait(false));
        }

        public Task FailAsync(ClaimedMessage item, ItemFailure failure, CancellationToken cancellationToken)
        {
            recorder.Add(AttemptOutcome.Failed(item.Id, node.Name, time.GetUtcNow(), failure));
            return Task.CompletedTask;
        }

        public Task PostponeAsync(ClaimedMessage item, DateTimeOffset retryAt, CancellationToken cancellationToken)
        {
            recorder.Add(AttemptOutcome.Postponed(item.Id, node.Name, time.GetUtcNow(), retryAt));
            return Task.CompletedTask;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Delivery worker on node {Node} started ({Concurrency} in flight at most)")]
    private static partial void LogStarted(ILogger logger, string node, int concurrency);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message {MessageId} is not sent by this node: its lease ran out before the transaction began, and whichever node holds it now sends it")]
    private static partial void LogLeaseLost(ILogger logger, string messageId);
}
